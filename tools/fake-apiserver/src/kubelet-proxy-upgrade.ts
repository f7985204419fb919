// pods/{name}/exec|attach|portforward → an upgrade proxy, like kube-apiserver's UpgradeAwareHandler:
// the client's upgrade request is replayed for the kubelet path over TLS to the kubelet, the
// kubelet's answer (101 and its headers, or an error response) goes back verbatim, and after a 101
// raw bytes are relayed both ways until either side closes.
import { request, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { StatusError } from './errors.js';
import { connectKubelet, resolveKubelet, type KubeletProxyOptions, type KubeletSubresource, type KubeletTarget } from './kubelet-proxy.js';
import type { ObjectStore } from './store.js';

/** Request headers not replayed to the kubelet: the caller's credentials and the hop's Host. */
const DROPPED_HEADERS = new Set(['authorization', 'host', 'proxy-authorization', 'impersonate-user', 'impersonate-group']);
/** Kubelet error bodies are passed back up to this size. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface UpgradeRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  store: ObjectStore;
  namespace: string;
  pod: string;
  subresource: Exclude<KubeletSubresource, 'log'>;
  query: URLSearchParams;
}

/** The kubelet path of an exec/attach/portforward request (kube-apiserver's *Location functions). */
export function kubeletStreamPath(subresource: UpgradeRequest['subresource'], target: KubeletTarget, query: URLSearchParams): string {
  const params = new URLSearchParams(query);
  params.delete('container');
  const q = params.size > 0 ? `?${params}` : '';
  const seg = (s: string): string => encodeURIComponent(s);
  if (subresource === 'portforward') return `/portForward/${seg(target.namespace)}/${seg(target.pod)}${q}`;
  return `/${subresource}/${seg(target.namespace)}/${seg(target.pod)}/${seg(target.container)}${q}`;
}

/** Copy of the client's headers for the kubelet (credentials and Host dropped). */
export function upstreamHeaders(req: IncomingMessage, target: KubeletTarget): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { host: `${target.nodeIp}:${target.port}` };
  for (const [name, value] of Object.entries(req.headers)) {
    if (!DROPPED_HEADERS.has(name) && value !== undefined) headers[name] = value;
  }
  return headers;
}

/** Proxy one upgrade request; rejects with a StatusError while nothing has been written yet. */
export async function proxyUpgrade(options: KubeletProxyOptions, u: UpgradeRequest): Promise<void> {
  const container = u.subresource === 'portforward' ? undefined : (u.query.get('container') ?? '');
  const target = resolveKubelet(u.store, u.namespace, u.pod, container);
  const path = kubeletStreamPath(u.subresource, target, u.query);
  const tls = await connectKubelet(options, target);
  if (u.socket.destroyed) return void tls.destroy();
  await exchange(u, tls, { method: u.req.method ?? 'GET', path, headers: upstreamHeaders(u.req, target) });
}

/** Send the upgrade request over `tls`, answer the client with the kubelet's response, relay after a 101. */
export function exchange(
  u: Pick<UpgradeRequest, 'socket' | 'head'>,
  tls: TLSSocket,
  init: { method: string; path: string; headers: OutgoingHttpHeaders },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const upstream = request({ createConnection: () => tls, ...init });
    const onClientClose = (): void => void tls.destroy();
    u.socket.once('close', onClientClose);
    upstream.once('error', (err) => {
      u.socket.off('close', onClientClose);
      reject(new StatusError('InternalError', `error proxying to the kubelet: ${err.message}`));
    });
    upstream.once('upgrade', (res: IncomingMessage, up: Duplex, upHead: Buffer) => {
      u.socket.off('close', onClientClose);
      u.socket.write(responseHead(res));
      if (upHead.length > 0) u.socket.write(upHead);
      if (u.head.length > 0) up.write(u.head);
      relay(u.socket, up);
      resolve();
    });
    upstream.once('response', (res: IncomingMessage) => {
      u.socket.off('close', onClientClose);
      void passResponse(res, u.socket)
        .finally(() => tls.destroy())
        .then(resolve, resolve);
    });
    upstream.end();
  });
}

/** The status line and raw headers of a response, as received. */
export function responseHead(res: IncomingMessage): string {
  const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}`];
  for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A non-101 kubelet answer goes back to the client as-is (body bounded), then the connection closes. */
async function passResponse(res: IncomingMessage, socket: Duplex): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < MAX_ERROR_BODY_BYTES) chunks.push(chunk);
    size += chunk.length;
  }
  const body = Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES);
  const type = res.headers['content-type'] ?? 'text/plain';
  socket.end(
    `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('latin1')}`,
    'latin1',
  );
}

/**
 * Raw bytes both ways with backpressure (pipe; an end is passed on as an end). An error, or a side
 * closing without having ended cleanly (a dead tunnel), destroys the other side at once.
 */
export function relay(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const teardown = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', teardown);
  b.on('error', teardown);
  a.once('close', () => {
    if (!a.readableEnded) b.destroy();
  });
  b.once('close', () => {
    if (!b.readableEnded) a.destroy();
  });
}

/** Answer an upgrade request that will not be proxied with a v1 Status over the raw socket. */
export function writeRawStatus(socket: Duplex, err: unknown): void {
  const status = err instanceof StatusError ? err : new StatusError('InternalError', String((err as Error)?.message ?? err));
  if (socket.destroyed) return;
  const body = JSON.stringify(status.toStatus());
  socket.end(
    `HTTP/1.1 ${status.httpCode} ${status.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
