// Where a request wants to go: the X-Tunnel-Proxy-Dest header when present, else the Host header
// (`nodeIP:port` or `nodeName:port`, both survive DNAT). Parsed with dnat's parseDest.
import type { IncomingMessage } from 'node:http';
import { parseDest } from '@edge-tunnel/dnat';
import type { Dest } from '@edge-tunnel/dnat';
import type { Failure } from './http-errors.js';

export const DEST_HEADER = 'x-tunnel-proxy-dest';

/** The destination of `req`, or a 400 Failure naming the header that could not be read. */
export function destOf(req: IncomingMessage): Dest | Failure {
  const header = req.headers[DEST_HEADER];
  const explicit = Array.isArray(header) ? header[0] : header;
  const [name, value] = explicit !== undefined ? ['X-Tunnel-Proxy-Dest', explicit] : ['Host', req.headers.host];
  if (value === undefined || value === '') {
    return { status: 400, reason: 'NO_DESTINATION', message: 'the request has neither an X-Tunnel-Proxy-Dest nor a Host header naming nodeIP:port or nodeName:port' };
  }
  const dest = parseDest(value);
  if (dest === undefined) {
    return { status: 400, reason: 'BAD_DESTINATION', message: `${name} ${JSON.stringify(value.slice(0, 200))} is not nodeIP:port or nodeName:port` };
  }
  return dest;
}

/** A CONNECT target (`host:port`), or a 400 Failure. */
export function connectDest(target: string | undefined): Dest | Failure {
  const dest = target === undefined ? undefined : parseDest(target);
  if (dest === undefined) {
    return { status: 400, reason: 'BAD_DESTINATION', message: `CONNECT target ${JSON.stringify(String(target).slice(0, 200))} is not nodeIP:port or nodeName:port` };
  }
  return dest;
}

export function isFailure(x: object): x is Failure {
  return 'status' in x && 'reason' in x;
}
