// GET /metrics/resource: what metrics-server (v0.6 and later) scrapes from every kubelet. The same
// families, HELP texts, label sets and order as the kubelet's resource metrics collector: node and
// container CPU (cumulative core-seconds) and working set, pod sums, container start times, and the
// scrape-error gauge (the kubelet serves it as `resource_scrape_error` and, deprecated, `scrape_error`).
import { cpus, freemem, totalmem } from 'node:os';
import type { KubeletContext } from './context.js';
import { family } from './exposition.js';
import type { Sample } from './exposition.js';
import { containerUsage } from './metrics.js';

/** Busy core-seconds of the host since boot (every core's user, nice, sys and irq time). */
function nodeCpuSeconds(): number {
  return cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0) / 1000;
}

export function resourceMetrics(ctx: KubeletContext, now = Date.now()): string {
  const containerCpu: Sample[] = [];
  const containerMemory: Sample[] = [];
  const containerStart: Sample[] = [];
  const podCpu: Sample[] = [];
  const podMemory: Sample[] = [];
  let index = 0;
  for (const pod of ctx.pods.list()) {
    let cpuSeconds = 0;
    let memoryBytes = 0;
    for (const container of pod.containers) {
      const labels = { container, namespace: pod.namespace, pod: pod.name };
      const usage = containerUsage(ctx, index++);
      cpuSeconds += usage.cpuSeconds;
      memoryBytes += usage.memoryBytes;
      containerCpu.push({ labels, value: usage.cpuSeconds, timestampMs: now });
      containerMemory.push({ labels, value: usage.memoryBytes, timestampMs: now });
      containerStart.push({ labels, value: pod.startTime.getTime() / 1000 });
    }
    const labels = { namespace: pod.namespace, pod: pod.name };
    podCpu.push({ labels, value: cpuSeconds, timestampMs: now });
    podMemory.push({ labels, value: memoryBytes, timestampMs: now });
  }
  const ok: Sample[] = [{ value: 0 }];
  return [
    family('container_cpu_usage_seconds_total', 'counter', '[STABLE] Cumulative cpu time consumed by the container in core-seconds', containerCpu),
    family('container_memory_working_set_bytes', 'gauge', '[STABLE] Current working set of the container in bytes', containerMemory),
    family('container_start_time_seconds', 'gauge', '[STABLE] Start time of the container since unix epoch in seconds', containerStart),
    family('node_cpu_usage_seconds_total', 'counter', '[STABLE] Cumulative cpu time consumed by the node in core-seconds', [
      { value: nodeCpuSeconds(), timestampMs: now },
    ]),
    family('node_memory_working_set_bytes', 'gauge', '[STABLE] Current working set of the node in bytes', [
      { value: totalmem() - freemem(), timestampMs: now },
    ]),
    family('pod_cpu_usage_seconds_total', 'counter', '[STABLE] Cumulative cpu time consumed by the pod in core-seconds', podCpu),
    family('pod_memory_working_set_bytes', 'gauge', '[STABLE] Current working set of the pod in bytes', podMemory),
    family('resource_scrape_error', 'gauge', '[STABLE] 1 if there was an error while getting container metrics, 0 otherwise', ok),
    family('scrape_error', 'gauge', '[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise', ok),
  ].join('');
}
