import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export function sendText(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json');
}

/** The body of go's http.NotFound, which the kubelet's mux answers for unknown paths. */
export const PAGE_NOT_FOUND = '404 page not found\n';

/**
 * Answers an upgrade request with a plain HTTP error. With `keepAlive` the connection stays up and
 * `keepAlive` serves what follows (pipelined or sent later), as the kubelet's Go server does for an
 * upgrade its handler refused; otherwise the socket is closed.
 */
export function rejectUpgrade(socket: Duplex, status: number, message: string, keepAlive?: () => void): void {
  const body = `${message}\n`;
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` + 'Content-Type: text/plain; charset=utf-8\r\n' + `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  if (keepAlive === undefined) {
    socket.end(`${head}Connection: close\r\n\r\n${body}`);
    return;
  }
  socket.write(`${head}\r\n${body}`);
  keepAlive();
}

/** Splits `/a/b/c` into decoded segments; undefined when a segment is not valid percent-encoding. */
export function pathSegments(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    return undefined;
  }
}
