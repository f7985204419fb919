// Upgrades (exec, attach, portForward over SPDY/3.1 or WebSocket): open a stream (TLS over it on
// the HTTPS channel), replay the request head and the bytes already read, then relay raw bytes both
// ways. The 101 comes from the kubelet through the relay; the caller's bytes past the head wait for
// it (any other answer ends the relay after that response: relay.ts).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dest } from '@edge-tunnel/dnat';
import { Audit, traceIdOf } from './audit.js';
import { callerFailure, mayReadDetails, sentBy } from './caller-view.js';
import type { ProxyContext } from './context.js';
import { destOf, isFailure } from './dest.js';
import { requestHead } from './headers.js';
import { writeRawFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';
import { idleLine, relay } from './relay.js';
import { openUpstream } from './upstream.js';

/** `dest`: the destination when the caller already resolved it (cluster mode: pod lookup). */
export function forwardUpgrade(ctx: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer, dest: Dest | Failure = destOf(req)): void {
  const traceId = traceIdOf(req);
  const audit = new Audit(ctx.log, ctx.metrics, ctx.listener, req, traceId);
  socket.on('error', () => socket.destroy());
  const fail = (f: Failure): void => {
    const { shown, detail } = callerFailure(f, mayReadDetails(ctx.listener, req), sentBy(ctx.listener, req), traceId);
    writeRawFailure(socket, shown);
    audit.finish({ status: f.status, reason: f.reason, detail });
  };
  const opened = openUpstream(ctx, req, dest, audit, traceId);
  if (isFailure(opened)) return fail(opened);
  const { tunnel, socket: upstream } = opened;
  upstream.write(requestHead(req.method ?? 'GET', req.url ?? '/', req.rawHeaders));
  relay(
    socket,
    upstream,
    tunnel.stream,
    {
      onEarlyError: (err) => fail(tunnel.failure(err)),
      onDone: (res) => audit.finish({ status: res.status || 502, bytesIn: res.bytesIn, bytesOut: res.bytesOut }),
      onIdle: (idleMs) => idleLine(ctx, audit, idleMs),
    },
    head,
    ctx.relayIdleTimeoutMs,
  );
}
