// The meta listener: /healthz, /readyz, /metrics, /debug/tunnels (paged: debug-tunnels.ts), /debug/config. /debug/* answers
// only connections that arrived on a loopback address (kubectl port-forward and exec reach it), even
// when the listener is bound to every address for probes and Prometheus: the pages name every node,
// its IPs and its agent's address, and need no credential.
import { createServer } from 'node:http';
import { isIP } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import { portConfigToJSON } from '@edge-tunnel/dnat';
import type { AgentRegistry } from './agents/registry.js';
import { TunnelsQueryError, tunnelsPage } from './debug-tunnels.js';
import type { ServerMetrics } from './metrics.js';
import type { PortConfigSource } from './port-config-source.js';
import { DEFAULT_CALLER_IDLE_TIMEOUT_MS } from './proxy/listener.js';

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
  /** /debug/tunnels page size without ?limit= (--debug-tunnels-limit) */
  tunnelsLimit?: number;
  /** Prometheus keeps its scrape connection: idle limit between requests (--caller-idle-timeout-ms) */
  callerIdleTimeoutMs?: number;
}

/** `X-Tunnel-Error` of a /debug request from a non-loopback address. */
export const DEBUG_LOOPBACK_ONLY = 'DEBUG_LOOPBACK_ONLY';

/** `X-Tunnel-Error` of a /debug/tunnels request with a query it cannot answer (400). */
export const DEBUG_BAD_QUERY = 'DEBUG_BAD_QUERY';

/** 127.0.0.0/8, ::1 and ::ffff:127.x: the connection came from this host (or its pod). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

const json = (res: ServerResponse, value: unknown): void => send(res, 200, 'application/json', `${JSON.stringify(value, null, 2)}\n`);

export function createMetaServer(deps: MetaDeps): Server {
  const routes: Record<string, (res: ServerResponse, query: URLSearchParams) => void | Promise<void>> = {
    '/healthz': (res) => send(res, 200, 'text/plain', 'ok\n'),
    '/readyz': (res) =>
      deps.ready()
        ? send(res, 200, 'text/plain', 'ok\n')
        : send(res, 503, 'text/plain', `not ready${deps.notReadyReason ? `: ${deps.notReadyReason() ?? 'unknown'}` : ''}\n`),
    '/metrics': async (res) => send(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics()),
    '/debug/tunnels': (res, query) => {
      try {
        json(res, tunnelsPage(deps.registry, query, deps.tunnelsLimit));
      } catch (err) {
        if (!(err instanceof TunnelsQueryError)) throw err;
        send(res, 400, 'text/plain', `edge-tunnel: ${DEBUG_BAD_QUERY}: /debug/tunnels: ${err.message}\n`, { 'x-tunnel-error': DEBUG_BAD_QUERY });
      }
    },
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
  return createServer({ keepAliveTimeout: deps.callerIdleTimeoutMs ?? DEFAULT_CALLER_IDLE_TIMEOUT_MS }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://meta');
    const path = url.pathname;
    const route = routes[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    const local = isLoopback(req.socket.localAddress);
    if (route !== undefined && path.startsWith('/debug/') && !local) {
      return send(
        res,
        403,
        'text/plain',
        `edge-tunnel: ${DEBUG_LOOPBACK_ONLY}: ${path} answers only on a loopback address of the server (kubectl port-forward or exec); /healthz, /readyz and /metrics answer here\n`,
        { 'x-tunnel-error': DEBUG_LOOPBACK_ONLY },
      );
    }
    if (!route)
      return send(
        res,
        404,
        'text/plain',
        `not found; try ${Object.keys(routes)
          .filter((p) => local || !p.startsWith('/debug/'))
          .join(' ')}\n`,
      );
    Promise.resolve(route(res, url.searchParams)).catch((err: Error) => send(res, 500, 'text/plain', `${err.message}\n`));
  });
}
