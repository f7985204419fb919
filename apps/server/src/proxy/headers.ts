// Hop-by-hop headers (RFC 9110 §7.6.1): removed when forwarding, along with every header the
// Connection header names, and the tunnel's own destination header.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { DEST_HEADER } from './dest.js';
import { tunnelError } from './tunnel-errors.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** A copy of `headers` without hop-by-hop headers (and without X-Tunnel-Proxy-Dest). */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name === DEST_HEADER) continue;
    out[name] = value;
  }
  return out;
}

/** The request head to replay on a raw stream (upgrades): all headers as sent, in order. */
export function requestHead(method: string, url: string, rawHeaders: readonly string[]): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === DEST_HEADER) continue;
    head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return `${head}\r\n`;
}

/** More than one Host header (RFC 9112 §3.2: answer 400): the proxy and the kubelet could disagree on it. */
export function hostHeaderCount(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') n += 1;
  return n;
}

export const DUPLICATE_HOST = { ...tunnelError('BAD_DESTINATION'), message: 'the request has more than one Host header' } as const;
