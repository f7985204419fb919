import { statSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { KubeletContext } from './context.js';
import { containerUsage } from './metrics.js';

function cpuStats(time: string, usageCoreNanoSeconds: number, usageNanoCores: number): object {
  return { time, usageNanoCores: Math.round(usageNanoCores), usageCoreNanoSeconds: Math.round(usageCoreNanoSeconds) };
}

function memoryStats(time: string, usageBytes: number, availableBytes?: number): object {
  return {
    time,
    ...(availableBytes === undefined ? {} : { availableBytes }),
    usageBytes,
    workingSetBytes: usageBytes,
    rssBytes: usageBytes,
    pageFaults: 0,
    majorPageFaults: 0,
  };
}

/** Node CPU from the host: busy time of all cores, and the 1-minute load as current usage. */
function nodeCpu(time: string): object {
  const busyMs = cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
  return cpuStats(time, busyMs * 1e6, (loadavg()[0] ?? 0) * 1e9);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** GET /stats/summary: the kubelet's Summary API, with host numbers for the node and synthetic ones for pods. */
export function statsSummary(ctx: KubeletContext): object {
  const time = new Date().toISOString();
  const total = totalmem();
  let index = 0;
  const pods = ctx.pods.list().map((pod) => {
    const usages = pod.containers.map(() => containerUsage(ctx, index++));
    const containers = pod.containers.map((name, i) => ({
      name,
      startTime: pod.startTime.toISOString(),
      cpu: cpuStats(time, usages[i]!.cpuSeconds * 1e9, 2e6),
      memory: memoryStats(time, usages[i]!.memoryBytes),
      logs: { time, usedBytes: fileSize(ctx.logs.pathOf(pod, name)) },
    }));
    const cpuSeconds = usages.reduce((s, u) => s + u.cpuSeconds, 0);
    const memoryBytes = usages.reduce((s, u) => s + u.memoryBytes, 0);
    return {
      podRef: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
      startTime: pod.startTime.toISOString(),
      containers,
      cpu: cpuStats(time, cpuSeconds * 1e9, 2e6 * usages.length),
      memory: memoryStats(time, memoryBytes),
    };
  });
  return {
    node: {
      nodeName: ctx.options.nodeName,
      systemContainers: [],
      startTime: ctx.startTime.toISOString(),
      cpu: nodeCpu(time),
      memory: memoryStats(time, total - freemem(), freemem()),
    },
    pods,
  };
}
