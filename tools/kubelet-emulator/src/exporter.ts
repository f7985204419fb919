import { createServer } from 'node:http';
import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import { KubeletEmulatorError, KubeletEmulatorErrorCode, badOptions } from './errors.js';
import { EXPOSITION_CONTENT_TYPE, family } from './exposition.js';
import { PAGE_NOT_FOUND, sendText } from './http-util.js';

export const DEFAULT_EXPORTER_PORT = 9100;

export interface ExporterOptions {
  host: string;
  /** Default 9100; 0 picks an ephemeral port. */
  port?: number;
}

export interface ExporterHandle {
  readonly port: number;
  close(): Promise<void>;
}

/** The node_ metrics of one scrape; `scrapes` counts scrapes including this one. */
export function nodeMetrics(scrapes: number): string {
  const cpuSamples = cpus().flatMap((c, i) =>
    (['user', 'system', 'idle'] as const).map((mode) => ({
      labels: { cpu: String(i), mode },
      value: (mode === 'system' ? c.times.sys : c.times[mode]) / 1000,
    })),
  );
  return [
    family('node_exporter_scrapes_total', 'counter', 'Scrapes of this exporter since it started.', [{ value: scrapes }]),
    family('node_cpu_seconds_total', 'counter', 'Seconds the CPUs spent in each mode.', cpuSamples),
    family('node_load1', 'gauge', '1m load average.', [{ value: loadavg()[0] ?? 0 }]),
    family('node_memory_MemTotal_bytes', 'gauge', 'Memory information field MemTotal_bytes.', [{ value: totalmem() }]),
    family('node_memory_MemAvailable_bytes', 'gauge', 'Memory information field MemAvailable_bytes.', [{ value: freemem() }]),
    family('node_boot_time_seconds', 'gauge', 'Node boot time, in unixtime.', [{ value: Math.round(Date.now() / 1000 - uptime()) }]),
    family('node_time_seconds', 'gauge', 'System time in seconds since epoch (1970).', [{ value: Date.now() / 1000 }]),
  ].join('');
}

/** A node-exporter-like HTTP endpoint serving GET /metrics, for tests of custom forwarded ports. */
export async function startExporter(options: ExporterOptions): Promise<ExporterHandle> {
  const port = options.port ?? DEFAULT_EXPORTER_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw badOptions(`port must be an integer from 0 to 65535, got ${port}`);
  let scrapes = 0;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://exporter').pathname;
    if (path !== '/metrics') return sendText(res, 404, PAGE_NOT_FOUND);
    scrapes += 1;
    sendText(res, 200, nodeMetrics(scrapes), EXPOSITION_CONTENT_TYPE);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new KubeletEmulatorError(KubeletEmulatorErrorCode.LISTEN, `exporter cannot listen on ${options.host}:${port}: ${err.message}`, { cause: err })),
    );
    server.listen(port, options.host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
