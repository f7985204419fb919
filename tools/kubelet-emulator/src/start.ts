import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { STATUS_CODES, createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachRegistry } from './attach.js';
import { authorize } from './auth.js';
import type { KubeletContext } from './context.js';
import { KubeletEmulatorError, KubeletEmulatorErrorCode } from './errors.js';
import { LogStore } from './log-files.js';
import { RequestCounter } from './metrics.js';
import { resolveOptions } from './options.js';
import type { KubeletOptions } from './options.js';
import { PodStore } from './pods.js';
import { handleRequest } from './routes.js';
import { createWebSocketServer, handleUpgrade, type ServeAgain } from './upgrade.js';

export interface KubeletHandle {
  readonly nodeName: string;
  readonly httpsPort: number;
  readonly httpPort: number;
  /** `https://<host>:<httpsPort>` */
  readonly url: string;
  /** Where the container log files are. */
  readonly logDir: string;
  /** 'follow-start', 'follow-end' (FollowEvent), 'exec-start', 'exec-end' (ExecEvent). */
  readonly events: EventEmitter;
  /** Log-follow responses open now. */
  activeFollowers(): number;
  /** Exec sessions started since start (cumulative). */
  execCount(): number;
  /** TLS handshakes completed on the HTTPS port since start (a connection served again after a refused upgrade is not a new one). */
  tlsHandshakes(): number;
  /** Appends a line (or several, split on \n) to a container's log file; throws ERR_KUBELET_UNKNOWN_CONTAINER. */
  appendLog(namespace: string, pod: string, container: string, line: string): void;
  /** Ends followers, WebSockets and processes, closes both ports, removes temp dirs. */
  close(): Promise<void>;
}

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startKubelet(options: KubeletOptions): Promise<KubeletHandle> {
  const opts = resolveOptions(options);
  const tempDir = await mkdtemp(join(tmpdir(), `kubelet-emulator-${opts.nodeName}-`));
  const workDir = join(tempDir, 'work');
  mkdirSync(workDir);
  const pods = new PodStore(opts.nodeName, opts.host, opts.pods);
  const ctx: KubeletContext = {
    options: opts,
    pods,
    logs: new LogStore(opts.logDir ?? join(tempDir, 'pods'), opts.nodeName, pods.list()),
    requests: new RequestCounter(),
    events: new EventEmitter(),
    workDir,
    startTime: new Date(),
    followers: new Set(),
    sockets: new Set(),
    children: new Set(),
    attach: new AttachRegistry(),
    execsStarted: 0,
  };
  const wss = createWebSocketServer();
  const { cert, key, ca } = opts.tls;
  // webhook mode: a certificate is optional in the handshake (a bearer token may stand in), checked per request
  const webhook = opts.webhook;
  const https = createHttpsServer({
    cert,
    key,
    ca,
    requestCert: ca !== undefined || webhook !== undefined,
    rejectUnauthorized: ca !== undefined && webhook === undefined,
  });
  const http = createHttpServer();
  https.on('request', (req, res) => {
    if (webhook === undefined) return handleRequest(ctx, 'readwrite', req, res);
    void authorize(req, opts.nodeName, webhook).then((d) => {
      if (d.ok) return handleRequest(ctx, 'readwrite', req, res);
      res.writeHead(d.status, { 'content-type': 'text/plain; charset=utf-8' }).end(d.body);
    });
  });
  const handshaken = new WeakSet<object>();
  let handshakes = 0;
  https.on('secureConnection', (socket) => {
    if (handshaken.has(socket)) return;
    handshaken.add(socket);
    handshakes += 1;
  });
  // a refused upgrade: the connection goes on serving what follows (already read or not), as Go's does
  const again =
    (srv: typeof https | typeof http, event: 'secureConnection' | 'connection'): ServeAgain =>
    (socket, head) => {
      if (head.length > 0) socket.unshift(head);
      srv.emit(event, socket);
    };
  https.on('upgrade', (req, socket, head) => {
    if (webhook === undefined) return handleUpgrade(ctx, wss, 'readwrite', req, socket, head, again(https, 'secureConnection'));
    socket.on('error', () => socket.destroy());
    void authorize(req, opts.nodeName, webhook).then((d) => {
      if (d.ok) return handleUpgrade(ctx, wss, 'readwrite', req, socket, head, again(https, 'secureConnection'));
      socket.end(
        `HTTP/1.1 ${d.status} ${STATUS_CODES[d.status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(d.body)}\r\nConnection: close\r\n\r\n${d.body}`,
      );
    });
  });
  http.on('request', (req, res) => handleRequest(ctx, 'readonly', req, res));
  http.on('upgrade', (req, socket, head) => handleUpgrade(ctx, wss, 'readonly', req, socket, head, again(http, 'connection')));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= shutdown());
  const shutdown = async (): Promise<void> => {
    ctx.logs.stop();
    for (const stop of [...ctx.followers]) stop();
    for (const ws of ctx.sockets) ws.terminate();
    for (const child of ctx.children) child.kill('SIGKILL');
    ctx.attach.close();
    await Promise.all([closeServer(https), closeServer(http)]);
    wss.close();
    await rm(tempDir, { recursive: true, force: true });
  };

  let httpsPort: number;
  let httpPort: number;
  let binding = `${opts.host}:${opts.httpsPort}`;
  try {
    httpsPort = await listen(https, opts.httpsPort, opts.host);
    binding = `${opts.host}:${opts.httpPort}`;
    httpPort = await listen(http, opts.httpPort, opts.host);
  } catch (err) {
    await close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new KubeletEmulatorError(KubeletEmulatorErrorCode.LISTEN, `kubelet ${opts.nodeName} cannot listen on ${binding}: ${reason}`, { cause: err });
  }
  ctx.logs.start(opts.logLineIntervalMs);

  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    nodeName: opts.nodeName,
    httpsPort,
    httpPort,
    url: `https://${hostForUrl}:${httpsPort}`,
    logDir: ctx.logs.dir,
    events: ctx.events,
    activeFollowers: () => ctx.followers.size,
    execCount: () => ctx.execsStarted,
    tlsHandshakes: () => handshakes,
    appendLog(namespace, pod, container, line) {
      const found = ctx.pods.lookup(namespace, pod, container);
      if (typeof found === 'string') {
        throw new KubeletEmulatorError(KubeletEmulatorErrorCode.UNKNOWN_CONTAINER, `${namespace}/${pod}/${container}: ${found}`);
      }
      ctx.logs.append(found, container, line);
    },
    close,
  };
}
