// Plain (non-upgrade) requests: one stream per request, http.request over it (TLS over it on the
// HTTPS channel), bodies streamed both ways with backpressure, streaming responses flushed as they
// arrive. When the caller goes away the stream is reset (CANCEL) at once.
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dest } from '@edge-tunnel/dnat';
import { Audit, traceIdOf } from './audit.js';
import { callerFailure, mayReadDetails, sentBy } from './caller-view.js';
import type { ProxyContext } from './context.js';
import { destOf, isFailure } from './dest.js';
import { endToEndHeaders } from './headers.js';
import { sendFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';
import { openUpstream } from './upstream.js';

/** `dest`: the destination when the caller already resolved it (cluster mode: pod lookup). */
export function forwardHttp(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, dest: Dest | Failure = destOf(req)): void {
  const traceId = traceIdOf(req);
  const audit = new Audit(ctx.log, ctx.metrics, ctx.listener, req, traceId);
  req.on('data', (chunk: Buffer) => (audit.bytesIn += chunk.length));
  const fail = (f: Failure): void => {
    req.resume();
    const { shown, detail } = callerFailure(f, mayReadDetails(ctx.listener, req), sentBy(ctx.listener, req), traceId);
    sendFailure(res, shown);
    audit.finish({ status: f.status, reason: f.reason, detail });
  };
  const opened = openUpstream(ctx, req, dest, audit, traceId);
  if (isFailure(opened)) return fail(opened);
  const { tunnel, socket } = opened;
  const { stream } = tunnel;

  const upstream = httpRequest({
    createConnection: () => socket as never,
    method: req.method,
    path: req.url,
    headers: endToEndHeaders(req.headers),
  });
  upstream.on('response', (ures) => {
    res.writeHead(ures.statusCode ?? 502, ures.statusMessage, endToEndHeaders(ures.headers));
    res.flushHeaders();
    ures.on('data', (chunk: Buffer) => (audit.bytesOut += chunk.length));
    ures.pipe(res);
    ures.on('error', () => res.destroy());
    ures.on('end', () => audit.finish({ status: ures.statusCode ?? 502 }));
  });
  upstream.on('error', (err) => {
    if (res.headersSent) {
      res.destroy();
      audit.finish({ status: res.statusCode, reason: tunnel.failure(err).reason });
      return;
    }
    fail(tunnel.failure(err));
  });
  res.on('close', () => {
    if (res.writableFinished) return;
    // the caller went away (or the response broke): stop the upstream at once
    stream.reset('CANCEL', 'caller went away');
    upstream.destroy();
    audit.finish({ status: res.headersSent ? res.statusCode : 499, reason: 'CALLER_GONE' });
  });
  req.pipe(upstream);
}
