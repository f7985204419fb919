// The meta listener: /healthz (process alive), /readyz (a session is up), /metrics (Prometheus).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { AgentError, AgentErrorCode } from './errors.js';
import type { HostPort } from './config.js';

export interface MetaSource {
  registry: Registry;
  /** undefined when ready, else why not */
  notReadyReason(): string | undefined;
}

export interface MetaServer {
  address: AddressInfo;
  close(): Promise<void>;
}

export async function startMeta(addr: HostPort, source: MetaSource): Promise<MetaServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/healthz') return send(200, 'ok\n');
    if (path === '/readyz') {
      const reason = source.notReadyReason();
      return reason === undefined ? send(200, 'ok\n') : send(503, `not ready: ${reason}\n`);
    }
    if (path === '/metrics') {
      source.registry.metrics().then(
        (text) => send(200, text, source.registry.contentType),
        (err: Error) => send(500, `metrics failed: ${err.message}\n`),
      );
      return;
    }
    send(404, 'not found: try /healthz, /readyz or /metrics\n');
  });
  await listen(server, addr);
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, addr: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new AgentError(AgentErrorCode.META_LISTEN, `cannot listen on --meta-addr ${addr.host}:${addr.port}: ${err.message}`, { cause: err })),
    );
    server.listen(addr.port, addr.host, () => resolve());
  });
}
