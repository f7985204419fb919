// The step every proxied request shares: check the destination, route it to a node, open a stream
// on the node's session (TLS over it on the HTTPS channel). Fills the audit record as it goes.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dest } from '@edge-tunnel/dnat';
import type { Audit } from './audit.js';
import type { ProxyContext } from './context.js';
import { isFailure } from './dest.js';
import { DUPLICATE_HOST, hostHeaderCount } from './headers.js';
import type { Failure } from './http-errors.js';
import { streamCaller } from './caller-key.js';
import { openTunnel, originateTls, route, type Route, type Tunnel } from './tunnel.js';

export interface Upstream {
  /** the stream on the node's session (reset it to cancel; `failure()` explains its errors) */
  tunnel: Tunnel;
  /** what to write the request to: the stream, or TLS over it */
  socket: Duplex;
}

/** Checks the request's destination and routes it to a node (audit: port, nodeName). */
export function routeRequest(ctx: ProxyContext, req: IncomingMessage, dest: Dest | Failure, audit: Audit): Route | Failure {
  if (hostHeaderCount(req.rawHeaders) > 1) return { ...DUPLICATE_HOST };
  if (isFailure(dest)) return dest;
  audit.port = dest.port;
  const r = route(ctx, dest);
  if (isFailure(r)) return r;
  audit.nodeName = r.nodeName;
  return r;
}

export function openUpstream(ctx: ProxyContext, req: IncomingMessage, dest: Dest | Failure, audit: Audit, traceId: string): Upstream | Failure {
  const r = routeRequest(ctx, req, dest, audit);
  if (isFailure(r)) return r;
  const tunnel = openTunnel(ctx, r, ctx.channel, traceId, streamCaller(ctx, req));
  if (isFailure(tunnel)) return tunnel;
  const socket = ctx.originate ? originateTls(tunnel.stream, r, ctx.originate) : tunnel.stream;
  return { tunnel, socket };
}
