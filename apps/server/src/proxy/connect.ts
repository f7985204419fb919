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
import { Audit, traceIdOf } from './audit.js';
import { callerRefusal, type CallerRule } from './caller-auth.js';
import { callerFailure, mayReadDetails, sentTarget } from './caller-view.js';
import type { ProxyContext } from './context.js';
import { connectDest, isFailure } from './dest.js';
import { writeRawFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';
import { proxyServerOptions, refuseClient } from './listener.js';
import type { ProxyListenerLimits } from './listener.js';
import { idleLine } from './relay.js';
import { streamCaller } from './caller-key.js';
import { RawRelayCall, destroyOnError } from './raw-relay-call.js';
import { openSocketTunnel, route } from './tunnel.js';

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
  const server =
    tls === undefined
      ? createServer(proxyServerOptions(limits), onRequest)
      : createHttpsServer(
          { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ...proxyServerOptions(limits) },
          onRequest,
        );
  server.on(
    'connect',
    (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      void handleConnect(ctx, req, socket, head, tls === undefined ? undefined : callerRefusal(ctx, req, tls.callerAllow)),
  );
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

/** One CONNECT call: a refusal is an HTTP status and body, success its `200 Connection established`. */
class ConnectCall extends RawRelayCall<Audit> {
  constructor(
    ctx: ProxyContext,
    socket: Duplex,
    audit: Audit,
    /** the CONNECT target as the caller wrote it (req.url: no copy), for its error bodies */
    private readonly target: string | undefined,
    /** a verified caller certificate (mTLS): the body carries the operator's sentence */
    private readonly detailed: boolean,
  ) {
    super(ctx, socket, audit);
  }

  fail(f: Failure): void {
    // plain CONNECT takes no credentials: the body never has the operator's sentence
    const { shown, detail } = callerFailure(f, this.detailed, sentTarget(this.target), this.audit.traceId);
    writeRawFailure(this.socket, shown);
    this.audit.finish({ status: f.status, reason: f.reason, detail });
  }

  protected override established(): void {
    this.socket.write(ESTABLISHED);
  }

  protected idleLine(idleMs: number): void {
    idleLine(this.ctx, this.audit, idleMs);
  }
}

const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n', 'latin1');
