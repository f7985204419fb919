// The meta listener: /healthz, /readyz, /metrics, /debug/tunnels, /debug/config.
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import { portConfigToJSON } from '@edge-tunnel/dnat';
import type { AgentRegistry } from './agents/registry.js';
import type { ServerMetrics } from './metrics.js';
import type { PortConfigSource } from './port-config-source.js';

export interface MetaDeps {
  registry: AgentRegistry;
  metrics: ServerMetrics;
  portConfig: PortConfigSource;
  /** true while every listener is up and the server is not shutting down */
  ready(): boolean;
  /** why not ready, for the 503 body */
  notReadyReason?(): string | undefined;
  /** more JSON status pages, by path (e.g. `/debug/cluster`) */
  debug?: Record<string, () => unknown>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

const json = (res: ServerResponse, value: unknown): void => send(res, 200, 'application/json', `${JSON.stringify(value, null, 2)}\n`);

export function createMetaServer(deps: MetaDeps): Server {
  const routes: Record<string, (res: ServerResponse) => void | Promise<void>> = {
    '/healthz': (res) => send(res, 200, 'text/plain', 'ok\n'),
    '/readyz': (res) => (deps.ready() ? send(res, 200, 'text/plain', 'ok\n') : send(res, 503, 'text/plain', `not ready${deps.notReadyReason ? `: ${deps.notReadyReason() ?? 'unknown'}` : ''}\n`)),
    '/metrics': async (res) => send(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics()),
    '/debug/tunnels': (res) => json(res, { nodes: deps.registry.tunnels() }),
    '/debug/config': (res) => {
      const state = deps.portConfig.current();
      json(res, {
        source: state.source,
        ...(state.resourceVersion !== undefined ? { resourceVersion: state.resourceVersion } : {}),
        loadedAt: state.loadedAt.toISOString(),
        ...(state.lastError !== undefined ? { lastError: state.lastError } : {}),
        config: portConfigToJSON(state.config),
        rejected: state.rejected,
      });
    },
    ...Object.fromEntries(Object.entries(deps.debug ?? {}).map(([path, status]) => [path, (res: ServerResponse) => json(res, status())])),
  };
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://meta').pathname;
    const route = routes[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    if (!route) return send(res, 404, 'text/plain', `not found; try ${Object.keys(routes).join(' ')}\n`);
    Promise.resolve(route(res)).catch((err: Error) => send(res, 500, 'text/plain', `${err.message}\n`));
  });
}
