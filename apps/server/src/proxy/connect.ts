// The HTTP CONNECT frontend (konnectivity style): `CONNECT 10.0.0.5:10250 HTTP/1.1` → the agent
// dials the target (kind 'connect') → `200 Connection established` → raw relay. Any built-in or
// configured port; a miss or a refusal answers with its status and reason instead. With `tls` it
// speaks TLS and takes only callers whose certificate chains to the caller CA (else the handshake
// fails) and matches --caller-allow (else 403 CALLER_NOT_ALLOWED), as :10263 does.
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { channelOf } from '@edge-tunnel/dnat';
import { IdleSweep, type IdleWatched, type SocketStream, type SocketStreamOwner } from '@edge-tunnel/framing';
import { Audit, traceIdOf } from './audit.js';
import { callerRefusal, type CallerRule } from './caller-auth.js';
import { callerFailure, mayReadDetails, sentTarget } from './caller-view.js';
import type { ProxyContext } from './context.js';
import { connectDest, isFailure } from './dest.js';
import { streamFailure, writeRawFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';
import { proxyServerOptions, refuseClient } from './listener.js';
import type { ProxyListenerLimits } from './listener.js';
import { idleLine } from './relay.js';
import { streamCaller } from './caller-key.js';
import type { StreamClaim } from './stream-quota.js';
import { CLOSED_BEFORE_OPEN, countFailed, countOpened, openSocketTunnel, route, tunnelClosed } from './tunnel.js';

/** mTLS on the CONNECT frontend (--connect-require-cert): serving material, the caller CA and rules. */
export interface ConnectTls {
  cert: string;
  key: string;
  ca: string;
  callerAllow: readonly CallerRule[];
}

export function createConnectServer(ctx: ProxyContext, limits: Partial<ProxyListenerLimits> = {}, tls?: ConnectTls): Server {
  const onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'CONNECT' });
    res.end('edge-tunnel: this listener only takes CONNECT nodeIP:port\n');
  };
  const server = tls === undefined
    ? createServer(proxyServerOptions(limits), onRequest)
    : createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ...proxyServerOptions(limits) }, onRequest);
  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    void handleConnect(ctx, req, socket, head, tls === undefined ? undefined : callerRefusal(ctx, req, tls.callerAllow)));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseClient(ctx, err, socket));
  return server;
}

function handleConnect(ctx: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer, refused: Failure | undefined): void {
  const traceId = traceIdOf(req);
  const call = new ConnectCall(ctx, socket, new Audit(ctx.log, ctx.metrics, 'connect', req, traceId), req.url, mayReadDetails('connect', req));
  socket.on('error', destroyOnError);
  if (refused !== undefined) return call.fail(refused);
  const dest = connectDest(req.url);
  if (isFailure(dest)) return call.fail(dest);
  call.audit.port = dest.port;
  const r = route(ctx, dest, channelOf(ctx.portConfig(), dest.port) ?? ctx.channel);
  if (isFailure(r)) return call.fail(r);
  call.audit.nodeName = r.nodeName;
  call.claim = { ...streamCaller(ctx, req), nodeName: r.nodeName, listener: ctx.listener };
  const stream = openSocketTunnel(ctx, r, 'connect', traceId, call.claim, call);
  if (isFailure(stream)) return call.fail(stream);
  call.stream = stream;
  stream.send(head); // 0-RTT: the caller's first bytes go out with the OPEN
  socket.pause();
}

/**
 * One CONNECT from the moment its stream is asked for to its audit line: the stream's owner (it
 * waits for the agent, attaches the caller's socket, and the stream relays by itself) and the
 * relay's idle watch. One object per call; the stream and the socket do the rest.
 */
class ConnectCall implements SocketStreamOwner, IdleWatched {
  stream: SocketStream | undefined;
  /** the stream's place in the quota books (set with the stream) */
  claim!: StreamClaim;
  private relaying = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly socket: Duplex,
    readonly audit: Audit,
    /** the CONNECT target as the caller wrote it (req.url: no copy), for its error bodies */
    private readonly target: string | undefined,
    /** a verified caller certificate (mTLS): the body carries the operator's sentence */
    private readonly detailed: boolean,
  ) {}

  /** Bytes both ways so far (the idle sweep's activity). */
  get bytes(): number {
    return this.stream!.sent + this.stream!.received;
  }

  fail(f: Failure): void {
    // plain CONNECT takes no credentials: the body never has the operator's sentence
    const { shown, detail } = callerFailure(f, this.detailed, sentTarget(this.target), this.audit.traceId);
    writeRawFailure(this.socket, shown);
    this.audit.finish({ status: f.status, reason: f.reason, detail });
  }

  /** The agent accepted the stream: 200, then the stream relays with the caller's socket. */
  opened(stream: SocketStream): void {
    countOpened(this.ctx, this.claim);
    if (this.socket.destroyed) {
      this.audit.finish({ status: 499, reason: 'CALLER_GONE' });
      return stream.reset('CANCEL', 'caller went away');
    }
    this.relaying = true;
    this.socket.removeListener('error', destroyOnError); // the stream listens now: an error resets it and destroys the socket
    this.socket.write(ESTABLISHED);
    stream.attach(this.socket);
    const idleMs = this.idleMs;
    if (idleMs > 0) IdleSweep.of(idleMs).add(this);
  }

  socketLost(stream: SocketStream): void {
    stream.reset('CANCEL', 'caller went away');
  }

  closed(stream: SocketStream, err: Error | undefined): void {
    tunnelClosed(this.ctx, this.claim, stream);
    if (!stream.opened) {
      countFailed(this.ctx, err, this.claim);
      return this.fail(this.failure(stream, err ?? new Error(CLOSED_BEFORE_OPEN)));
    }
    if (this.relaying && this.idleMs > 0) IdleSweep.of(this.idleMs).delete(this);
    // a reset by the agent (its target failed) names its code; the caller's socket is gone with it
    this.audit.finish({ status: 200, bytesIn: stream.sent, bytesOut: stream.received, ...(err ? { reason: this.failure(stream, err).reason } : {}) });
  }

  closeIdle(idleMs: number): void {
    idleLine(this.ctx, this.audit, idleMs);
    this.stream!.reset('TIMEOUT', `relay idle for ${idleMs} ms`);
  }

  private get idleMs(): number {
    return this.ctx.relayIdleTimeoutMs;
  }

  private failure(stream: SocketStream, err: unknown): Failure {
    const { host, port } = stream.meta;
    return streamFailure(err, this.audit.nodeName!, host, port);
  }
}

const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n', 'latin1');

function destroyOnError(this: Duplex): void {
  this.destroy();
}
