// The Debian `prometheus` as a real cloud client: scrapes edge targets every second and reports
// their health through /api/v1/targets. netns mode: it runs in the cloud namespace and dials the
// edge IPs (DNAT carries what is configured). loopback mode: its `proxy_url` is the server's HTTP
// channel (:10264), which routes the absolute-form request by its Host header.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_PORTS } from './options.js';
import { unlessExited, waitFor, type TestbedProcess } from './processes.js';
import type { Testbed } from './testbed.js';

export interface PrometheusOptions {
  /** `host:port` scrape targets, e.g. `10.251.1.2:9100` */
  targets: readonly string[];
  /** default 1 */
  scrapeIntervalSeconds?: number;
  /** default 9090 (inside the cloud namespace, on its loopback) */
  port?: number;
}

export interface TargetHealth {
  /** `host:port` of the target */
  instance: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface PrometheusHandle {
  url: string;
  configPath: string;
  process: TestbedProcess;
  targets(): Promise<TargetHealth[]>;
  /** resolves with the target once its health is `health`; throws after `timeoutMs` with the last error */
  waitForHealth(instance: string, health: TargetHealth['health'], timeoutMs?: number): Promise<TargetHealth>;
  close(): Promise<void>;
}

export function prometheusConfig(targets: readonly string[], intervalS: number, proxyUrl?: string): string {
  return [
    'global:',
    `  scrape_interval: ${intervalS}s`,
    `  scrape_timeout: ${intervalS}s`,
    'scrape_configs:',
    '  - job_name: edge-exporter',
    ...(proxyUrl ? [`    proxy_url: ${proxyUrl}`] : []),
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
}

export async function startPrometheus(tb: Testbed, options: PrometheusOptions): Promise<PrometheusHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-tunnel-prometheus-'));
  const configPath = join(dir, 'prometheus.yml');
  const intervalS = options.scrapeIntervalSeconds ?? 1;
  const proxy = tb.mode === 'loopback' ? `http://${tb.serverAddress}:${SERVER_PORTS.http}` : undefined;
  await writeFile(configPath, prometheusConfig(options.targets, intervalS, proxy));
  const listen = `${tb.mode === 'netns' ? '127.0.0.1' : tb.serverAddress}:${options.port ?? 9090}`;
  const url = `http://${listen}`;
  const proc = tb.spawn(tb.cloudNs, 'prometheus', 'prometheus', [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=${listen}`,
    '--log.level=warn',
  ]);
  const close = async (): Promise<void> => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const targets = async (): Promise<TargetHealth[]> => {
    const res = await tb.exec(tb.cloudNs, 'curl', ['-sf', '-m', '2', `${url}/api/v1/targets?state=active`], 5_000);
    if (res.code !== 0) return [];
    const body = JSON.parse(res.stdout) as {
      data: { activeTargets: Array<{ labels: { instance: string }; health: TargetHealth['health']; lastError: string }> };
    };
    return body.data.activeTargets.map((t) => ({ instance: t.labels.instance, health: t.health, lastError: t.lastError }));
  };
  const waitForHealth = async (instance: string, health: TargetHealth['health'], timeoutMs = 10_000): Promise<TargetHealth> => {
    let last: TargetHealth | undefined;
    try {
      await waitFor(
        `prometheus target ${instance} ${health}`,
        async () => {
          last = (await targets()).find((t) => t.instance === instance);
          return last?.health === health;
        },
        timeoutMs,
        250,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message} (last: ${JSON.stringify(last)})`);
    }
    return last!;
  };
  try {
    await unlessExited(
      proc,
      waitFor(
        'prometheus to be ready',
        async () => (await tb.exec(tb.cloudNs, 'curl', ['-sf', '-o', '/dev/null', '-m', '1', `${url}/-/ready`], 3_000)).code === 0,
        20_000,
        200,
      ),
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { url, configPath, process: proc, targets, waitForHealth, close };
}
