import type { KubeletContext } from './context.js';
import { family } from './exposition.js';
import type { Sample } from './exposition.js';

/** Which listener served a request, as the kubelet labels it. */
export type ServerType = 'readwrite' | 'readonly';

/** Counts requests per listener, method and first path segment, like kubelet_http_requests_total. */
export class RequestCounter {
  readonly #counts = new Map<string, number>();

  record(server: ServerType, method: string, path: string, longRunning: boolean): void {
    const key = JSON.stringify([server, method, path.split('/')[1] ?? '', longRunning]);
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  samples(): Sample[] {
    return [...this.#counts].sort().map(([key, value]) => {
      const [server, method, path, longRunning] = JSON.parse(key) as [string, string, string, boolean];
      return { labels: { long_running: String(longRunning), method, path, server_type: server }, value };
    });
  }
}

/** Synthetic usage of a container, stable within a run: grows with uptime, differs per container. */
export function containerUsage(ctx: KubeletContext, index: number): { cpuSeconds: number; memoryBytes: number } {
  const uptime = (Date.now() - ctx.startTime.getTime()) / 1000;
  return { cpuSeconds: uptime * 0.002 * (index + 1), memoryBytes: (8 + 4 * index) * 1024 * 1024 };
}

/** Counts the request and reports it to onRequest once its response is over. */
export function trackRequest(ctx: KubeletContext, server: ServerType, method: string, path: string, status: number, longRunning: boolean): void {
  ctx.requests.record(server, method, path, longRunning);
  ctx.options.onRequest?.(method, path, status);
}

/** GET /metrics */
export function kubeletMetrics(ctx: KubeletContext): string {
  const node = ctx.options.nodeName;
  return [
    family('kubelet_node_name', 'gauge', "[ALPHA] The node's name. The count is always 1.", [{ labels: { node }, value: 1 }]),
    family('kubelet_running_pods', 'gauge', '[ALPHA] Number of pods that have a running pod sandbox', [{ value: ctx.pods.list().length }]),
    family('kubelet_running_containers', 'gauge', '[ALPHA] Number of containers currently running', [
      { labels: { container_state: 'running' }, value: ctx.pods.containerCount() },
    ]),
    family('kubelet_http_requests_total', 'counter', '[ALPHA] Number of the http requests received since the server started', ctx.requests.samples()),
    family('kubelet_emulator_log_followers', 'gauge', 'Open log-follow responses', [{ value: ctx.followers.size }]),
    family('kubelet_emulator_exec_sessions_total', 'counter', 'Exec sessions started', [{ value: ctx.execsStarted }]),
    family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [{ value: ctx.startTime.getTime() / 1000 }]),
  ].join('');
}

/** GET /metrics/cadvisor */
export function cadvisorMetrics(ctx: KubeletContext): string {
  const cpu: Sample[] = [];
  const memory: Sample[] = [];
  const start: Sample[] = [];
  let index = 0;
  for (const pod of ctx.pods.list()) {
    for (const container of pod.containers) {
      const labels = { container, namespace: pod.namespace, pod: pod.name, id: `/kubepods/pod${pod.uid}/${container}` };
      const usage = containerUsage(ctx, index++);
      cpu.push({ labels: { ...labels, cpu: 'total' }, value: usage.cpuSeconds });
      memory.push({ labels, value: usage.memoryBytes });
      start.push({ labels, value: pod.startTime.getTime() / 1000 });
    }
  }
  return [
    family('container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed in seconds.', cpu),
    family('container_memory_working_set_bytes', 'gauge', 'Current working set in bytes.', memory),
    family('container_start_time_seconds', 'gauge', 'Start time of the container since unix epoch in seconds.', start),
  ].join('');
}
