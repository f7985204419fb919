// Turning misses and stream failures into an HTTP status and a text body naming node, port and
// reason. Used by plain requests (a ServerResponse) and by upgrades and CONNECT (a raw socket).
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Miss } from '@edge-tunnel/dnat';
import { FramingError, FramingErrorCode, SessionClosedError, StreamResetError } from '@edge-tunnel/framing';
import { tunnelError } from './tunnel-errors.js';

/** Why a request got no upstream answer: its status, a stable reason and an operator sentence. */
export interface Failure {
  status: number;
  /** a dnat MissReason, a framing wire code, or NO_DESTINATION / BAD_DESTINATION / UPSTREAM_ERROR */
  reason: string;
  message: string;
  /** seconds, sent as Retry-After (quota refusals) */
  retryAfterS?: number;
}

/** The status a caller gets for each RESET code the agent (or the session) answered with. */
export const RESET_STATUS: Readonly<Record<string, number>> = Object.freeze({
  REFUSED: 403,
  CONNECT_FAILED: 502,
  TIMEOUT: 504,
  GOING_AWAY: 503,
  KEEPALIVE_TIMEOUT: 503,
});

export function missFailure(miss: Miss): Failure {
  return { status: miss.status, reason: miss.reason, message: miss.message };
}

/** A stream that failed before the upstream answered: status by wire code, the agent's reason. */
export function streamFailure(err: unknown, nodeName: string, host: string, port: number): Failure {
  const where = `edge node ${nodeName} (${host}:${port})`;
  if (err instanceof StreamResetError) {
    const status = RESET_STATUS[err.wireCode] ?? 502;
    const said = err.remote ? 'the agent answered' : 'the tunnel gave up';
    return { status, reason: err.wireCode, message: `${where}: ${said} ${err.wireCode}: ${err.reason || 'no reason given'}` };
  }
  if (err instanceof FramingError && err.code === FramingErrorCode.STREAM_LIMIT) {
    return { ...tunnelError('STREAM_LIMIT'), message: `${where}: ${err.message}; retry later` };
  }
  if (err instanceof SessionClosedError || (err instanceof FramingError && err.code === FramingErrorCode.SESSION_NOT_OPEN)) {
    return { ...tunnelError('SESSION_GONE'), message: `${where}: the agent session closed: ${err.message}` };
  }
  const text = err instanceof Error ? err.message : String(err);
  return { ...tunnelError('UPSTREAM_ERROR'), message: `${where}: ${text}` };
}

function body(f: Failure): string {
  return `edge-tunnel: ${f.reason}: ${f.message}\n`;
}

/** Answers `res` with the failure (if nothing was sent yet), closing the connection afterwards. */
export function sendFailure(res: ServerResponse, f: Failure): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = body(f);
  res.writeHead(f.status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-tunnel-error': f.reason,
    ...(f.retryAfterS !== undefined ? { 'retry-after': String(f.retryAfterS) } : {}),
  });
  res.end(text);
}

/** Writes a complete HTTP/1.1 error response on a raw socket (upgrade or CONNECT) and ends it. */
export function writeRawFailure(socket: Duplex, f: Failure): void {
  const text = body(f);
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${f.status} ${STATUS_CODES[f.status] ?? 'Error'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
      `X-Tunnel-Error: ${f.reason}\r\n${f.retryAfterS !== undefined ? `Retry-After: ${f.retryAfterS}\r\n` : ''}Connection: close\r\n\r\n${text}`,
  );
}
