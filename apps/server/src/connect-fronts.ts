// The CONNECT frontend's listeners: --connect-addr (plain TCP, or mTLS with --connect-require-cert
// behind the same ClientHello gate as :10263) and --connect-uds (a Unix socket, mode 0660, whose
// callers count as authenticated for the stream quotas: the file's permissions admitted them).
// Plain TCP CONNECT takes no credential: on a non-loopback address a warn line says so at start.
import { chmod, lstat, unlink } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { createTlsFront } from './accept/tls-front.js';
import { RefusalReporter } from './accept/refusals.js';
import { formatAddr, isWildcard } from './addr.js';
import type { ListenAddr } from './addr.js';
import type { ServerConfig } from './config.js';
import { ServerError, ServerErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import { createConnectServer } from './proxy/connect.js';
import type { ProxyContext } from './proxy/context.js';
import type { ProxyListenerLimits } from './proxy/listener.js';

/** Mode of the CONNECT Unix socket: its owner and group may connect. */
export const CONNECT_UDS_MODE = 0o660;

export interface ConnectFronts {
  /** the TCP listener to bind to --connect-addr, if any */
  tcp?: NetServer;
  /** HTTP servers behind the listeners (idle and open connections are closed on shutdown) */
  http: HttpServer[];
  /** binds the Unix socket (after the TCP listeners), resolves with its path */
  listenUds(): Promise<string | undefined>;
  /** ClientHello-gated connections still waiting (mTLS only) */
  dropWaiting(): void;
}

export function createConnectFronts(
  config: ServerConfig,
  ctx: ProxyContext,
  limits: ProxyListenerLimits,
  tls: { cert: string; key: string; callerCa?: string },
  metrics: ServerMetrics,
  log: Logger,
): ConnectFronts {
  const http: HttpServer[] = [];
  let tcp: NetServer | undefined;
  let dropWaiting = (): void => {};
  if (config.connectAddr !== undefined && config.connectRequireCert) {
    const server = createConnectServer(ctx, limits, { cert: tls.cert, key: tls.key, ca: tls.callerCa!, callerAllow: config.callerAllow });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: { remoteAddress?: string }) => {
      log.warn(
        { listener: 'connect', remoteAddress: socket.remoteAddress, code: err.code, reason: err.message.split('\n')[0] },
        'caller tls handshake failed (--connect-require-cert: a certificate from --caller-ca is required)',
      );
    });
    const front = createTlsFront(
      server as unknown as TlsServer,
      {
        clientHelloTimeoutMs: config.clientHelloTimeoutMs,
        maxPendingConnections: config.maxPendingConnections,
        maxPendingPerSource: config.httpsMaxPendingPerSource,
      },
      new RefusalReporter('connect', metrics.tlsRefusals, log),
    );
    http.push(server);
    tcp = front.server;
    dropWaiting = () => front.dropWaiting();
  } else if (config.connectAddr !== undefined) {
    const server = createConnectServer(ctx, limits);
    http.push(server);
    tcp = server;
    if (!isLoopback(config.connectAddr)) {
      log.warn(
        { listener: 'connect', addr: formatAddr(config.connectAddr) },
        'CONNECT frontend without credentials on a non-loopback address: anyone who reaches it shares the unauthenticated stream quota; use --connect-require-cert or --connect-uds (README "CONNECT frontend")',
      );
    }
  }
  const uds = config.connectUds === undefined ? undefined : createConnectServer({ ...ctx, unixSocket: true }, limits);
  if (uds) http.push(uds);
  return { tcp, http, dropWaiting: () => dropWaiting(), listenUds: () => (uds ? listenPath(uds, config.connectUds!) : Promise.resolve(undefined)) };
}

function isLoopback(addr: ListenAddr): boolean {
  return !isWildcard(addr.host) && (addr.host === 'localhost' || addr.host === '::1' || addr.host.startsWith('127.'));
}

/** Binds `server` to a Unix socket path (a stale socket file is replaced), then sets its mode. */
async function listenPath(server: NetServer, path: string): Promise<string> {
  const stale = await lstat(path).catch(() => undefined);
  if (stale?.isSocket()) await unlink(path);
  else if (stale) throw new ServerError(ServerErrorCode.LISTEN, `CONNECT Unix socket ${path} exists and is not a socket (--connect-uds)`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new ServerError(ServerErrorCode.LISTEN, `CONNECT Unix socket cannot listen on ${path}: ${err.message}`, { cause: err })),
    );
    server.listen(path, () => resolve());
  });
  await chmod(path, CONNECT_UDS_MODE);
  return path;
}
