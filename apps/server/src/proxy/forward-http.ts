// Plain (non-upgrade) requests: http.request over a stream (TLS over it on the HTTPS channel),
// bodies streamed both ways with backpressure, streaming responses flushed as they arrive. With a
// pool (both channels by default) the connection (stream, + TLS on HTTPS) comes from the node's pool
// and goes back after a complete response (upstream-pool.ts); else one stream per request. When the
// caller goes away the stream is reset (CANCEL) and the connection destroyed at once (never pooled).
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, RequestOptions, ServerResponse } from 'node:http';
import type { Dest } from '@edge-tunnel/dnat';
import { Audit, traceIdOf } from './audit.js';
import { callerFailure, mayReadDetails, sentBy } from './caller-view.js';
import type { ProxyContext } from './context.js';
import { destOf, isFailure } from './dest.js';
import { endToEndHeaders } from './headers.js';
import { sendFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';
import { openUpstream, routeRequest } from './upstream.js';
import { UpstreamFailure, tunnelOf, type UpstreamPools } from './upstream-pool.js';
import { streamFailure } from './http-errors.js';
import type { Caller, Route, Tunnel } from './tunnel.js';
import { streamCaller } from './caller-key.js';
import { tunnelError } from './tunnel-errors.js';
import type { Duplex } from 'node:stream';

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
  let sent = sendUpstream(ctx, req, dest, audit, traceId);
  if (isFailure(sent)) return fail(sent);
  const wire = (current: Sent): void => {
    const { upstream } = current;
    upstream.on('response', (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.statusMessage, endToEndHeaders(ures.headers));
      // the head leaves with the first body bytes, one write; one whose body is not in by the end of
      // this turn of the event loop (a log follow, a slow target) is sent alone at once
      setImmediate(flushHead, res, audit);
      ures.on('data', (chunk: Buffer) => (audit.bytesOut += chunk.length));
      ures.pipe(res);
      ures.on('error', () => res.destroy());
      ures.on('end', () => audit.finish({ status: ures.statusCode ?? 502 }));
    });
    // a 101 to a request that asked for no upgrade: Node's client would close the socket and never answer
    upstream.on('upgrade', (ures: IncomingMessage, socket: Duplex) => {
      socket.destroy();
      const where = `edge node ${audit.nodeName} port ${audit.port}`;
      ctx.log.warn(
        { listener: ctx.listener, nodeName: audit.nodeName, port: audit.port, traceId, reason: `status ${ures.statusCode} to a plain request` },
        'upstream answered 101 without an upgrade request, connection closed',
      );
      fail({
        ...tunnelError('UPSTREAM_ERROR'),
        message: `${where}: the target answered ${ures.statusCode} Switching Protocols to a request that asked for no upgrade`,
      });
    });
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        audit.finish({ status: res.statusCode, reason: current.failure(err).reason });
        return;
      }
      // a pooled connection the kubelet closed as this request went out: once more on a new one
      if (current.retry !== undefined && upstream.reusedSocket && !res.destroyed && bodyless(req)) {
        ctx.log.debug(
          { listener: ctx.listener, nodeName: audit.nodeName, port: audit.port, traceId, reason: (err as Error).message },
          'pooled upstream connection failed before an answer, retrying on a new one',
        );
        const again = current.retry();
        if (isFailure(again)) return fail(again);
        sent = again;
        wire(again);
        again.upstream.end();
        return;
      }
      fail(current.failure(err));
    });
  };
  wire(sent);
  res.on('close', () => {
    if (res.writableFinished || isFailure(sent)) return;
    // the caller went away (or the response broke): stop the upstream at once
    sent.tunnel()?.stream.reset('CANCEL', 'caller went away');
    sent.upstream.destroy();
    audit.finish({ status: res.headersSent ? res.statusCode : 499, reason: 'CALLER_GONE' });
  });
  // a bodyless GET / HEAD is sent whole at once, so that a retry can send it again
  if (bodyless(req)) {
    req.resume();
    sent.upstream.end();
  } else req.pipe(sent.upstream);
}

function flushHead(res: ServerResponse, audit: Audit): void {
  if (audit.bytesOut === 0 && !res.writableEnded && !res.destroyed) res.flushHeaders();
}

/** GET or HEAD without a body: safe to send twice (RFC 9110 §9.2.2) and nothing to replay. */
function bodyless(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] ?? '0') === '0';
}

interface Sent {
  upstream: ClientRequest;
  /** the tunnel under the request's connection, once it has one */
  tunnel(): Tunnel | undefined;
  failure(err: unknown): Failure;
  /** pooled: the same request on a new connection of its own */
  retry?(): Sent | Failure;
}

/** The request to the node: through the listener's pool, or on a stream of its own (--upstream-pool-size=0). */
function sendUpstream(ctx: ProxyContext, req: IncomingMessage, dest: Dest | Failure, audit: Audit, traceId: string): Sent | Failure {
  const args = { method: req.method, path: req.url, headers: endToEndHeaders(req.headers) };
  if (ctx.pool === undefined) {
    const opened = openUpstream(ctx, req, dest, audit, traceId);
    if (isFailure(opened)) return opened;
    const { tunnel, socket } = opened;
    const upstream = httpRequest({ ...args, createConnection: () => socket as never });
    return { upstream, tunnel: () => tunnel, failure: (err) => tunnel.failure(err) };
  }
  const r = routeRequest(ctx, req, dest, audit);
  if (isFailure(r)) return r;
  return pooled(ctx.pool, r, traceId, streamCaller(ctx, req), args, false);
}

function pooled(pool: UpstreamPools, r: Route, traceId: string, caller: Caller, args: RequestOptions, fresh: boolean): Sent | Failure {
  const upstream = pool.request(r, traceId, caller, args, httpRequest, fresh);
  if (isFailure(upstream)) return upstream;
  const tunnel = (): Tunnel | undefined => tunnelOf(upstream.socket);
  const failure = (err: unknown): Failure =>
    err instanceof UpstreamFailure ? err.failure : (tunnel()?.failure(err) ?? streamFailure(err, r.nodeName, r.targetHost, r.targetPort));
  return { upstream, tunnel, failure, ...(fresh ? {} : { retry: () => pooled(pool, r, traceId, caller, args, true) }) };
}
