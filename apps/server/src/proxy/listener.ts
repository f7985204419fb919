// Hardening of the proxy listeners (HTTP, HTTPS, CONNECT): parser limits and timeouts given to the
// http server at creation, and a precise answer plus one warn line for every request Node's parser
// refuses (malformed, oversized headers, ambiguous body length, too slow). A listener is created
// with `proxyServerOptions()` and answers its 'clientError' with `refuseClient()`.
import { STATUS_CODES } from 'node:http';
import type { ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyContext } from './context.js';
import { tunnelError } from './tunnel-errors.js';

export interface ProxyListenerLimits {
  /** the whole request head must arrive within this (slowloris) */
  headersTimeoutMs: number;
  /** the whole request (head and body) must arrive within this; 0 = no limit */
  requestTimeoutMs: number;
  /** largest request head in bytes (request line + headers) */
  maxHeaderBytes: number;
  /** a keep-alive connection idle this long between requests is closed (http.Server keepAliveTimeout) */
  callerIdleTimeoutMs: number;
}

/**
 * Idle limit of keep-alive caller connections: longer than the idle timeout of the clients that
 * keep them (Go's http.Transport, so client-go in kube-apiserver and metrics-server: 90 s) and than
 * the usual scrape intervals (15–60 s), so the caller always closes an idle connection first. A
 * client closing its own idle connection is race-free; a server closing it races the client's next
 * request on it (Node's default, 5 s, reset metrics-server's 15 s scrapes). It adds nothing for a
 * silent or slow caller: a connection's first request head, and every later one once its first
 * byte is in, still has --headers-timeout-ms.
 */
export const DEFAULT_CALLER_IDLE_TIMEOUT_MS = 120_000;

export const DEFAULT_PROXY_LIMITS: ProxyListenerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  maxHeaderBytes: 16 * 1024,
  callerIdleTimeoutMs: DEFAULT_CALLER_IDLE_TIMEOUT_MS,
};

/** Writable (and readable) highWaterMark of caller sockets: four frames of the default size, 64 KiB. */
export const CALLER_HIGH_WATER_MARK = 64 * 1024;

/** Options for `http.createServer` / `https.createServer` of a proxy listener. */
export function proxyServerOptions(limits: Partial<ProxyListenerLimits> = {}): ServerOptions {
  const l = { ...DEFAULT_PROXY_LIMITS, ...limits };
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    // idle between requests (Node closes 1 s after the Keep-Alive: timeout= it announces); Node 20
    // starts headersTimeout at the next head's first byte, not at the end of the last response, so
    // the two do not interact (test/caller-idle.test.ts)
    keepAliveTimeout: l.callerIdleTimeoutMs,
    // the timeouts above are enforced by a sweep; run it often enough to keep them tight
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(l.headersTimeoutMs / 4))),
    maxHeaderSize: l.maxHeaderBytes,
    // caller sockets buffer up to four full frames, so a relay's corked writes coalesce (relay.ts)
    highWaterMark: CALLER_HIGH_WATER_MARK,
  };
}

interface Refusal {
  status: number;
  reason: string;
  message: string;
}

const SMUGGLING = new Set(['HPE_INVALID_TRANSFER_ENCODING', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_INVALID_CHUNK_SIZE']);

/** The answer to a request Node's parser refused; undefined when the caller is already gone (or must get none). */
export function refusalOf(err: NodeJS.ErrnoException): Refusal | undefined {
  const code = err.code ?? '';
  // a refused TLS renegotiation: no HTTP answer in the middle of a handshake (accept/tls-front.ts logs it)
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_TLS_RENEGOTIATION_DISABLED') return undefined;
  if (code === 'HPE_HEADER_OVERFLOW') return { ...tunnelError('HEADERS_TOO_LARGE'), message: 'the request head exceeds the size limit of this listener' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { ...tunnelError('REQUEST_TIMEOUT'), message: 'the request did not arrive in time' };
  if (SMUGGLING.has(code)) return { ...tunnelError('AMBIGUOUS_BODY'), message: `conflicting or invalid Content-Length / Transfer-Encoding (${code})` };
  return { ...tunnelError('MALFORMED_REQUEST'), message: `the request could not be parsed (${code || 'unknown error'})` };
}

/** The 'clientError' handler of a proxy listener: a precise status, X-Tunnel-Error, one warn line. */
export function refuseClient(ctx: ProxyContext, err: NodeJS.ErrnoException, socket: Duplex): void {
  const refusal = refusalOf(err);
  const remote = socket as Duplex & { remoteAddress?: string; remotePort?: number };
  const fields = { listener: ctx.listener, remoteAddress: `${remote.remoteAddress}:${remote.remotePort}`, code: err.code };
  if (refusal === undefined || !socket.writable) {
    ctx.log.debug(fields, 'caller connection error');
    socket.destroy();
    return;
  }
  ctx.log.warn({ ...fields, status: refusal.status, reason: refusal.reason }, 'bad request from caller');
  const body = `edge-tunnel: ${refusal.reason}: ${refusal.message}\n`;
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Tunnel-Error: ${refusal.reason}\r\nConnection: close\r\n\r\n${body}`,
  );
  // a caller that never reads its answer must not keep the socket open
  setTimeout(() => socket.destroy(), 1_000).unref();
}
