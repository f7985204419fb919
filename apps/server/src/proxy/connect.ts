// The HTTP CONNECT frontend (konnectivity style): `CONNECT 10.0.0.5:10250 HTTP/1.1` → the agent
// dials the target (kind 'connect') → `200 Connection established` → raw relay. Any built-in or
// configured port; a miss or a refusal answers with its status and reason instead.
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { channelOf } from '@edge-tunnel/dnat';
import { Audit, traceIdOf } from './audit.js';
import { DEFAULT_RELAY_IDLE_TIMEOUT_MS } from './context.js';
import type { ProxyContext } from './context.js';
import { connectDest, isFailure } from './dest.js';
import { writeRawFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';
import { proxyServerOptions, refuseClient } from './listener.js';
import type { ProxyListenerLimits } from './listener.js';
import { idleLine, relay } from './relay.js';
import { openTunnel, route } from './tunnel.js';

export function createConnectServer(ctx: ProxyContext, limits: Partial<ProxyListenerLimits> = {}): Server {
  const server = createServer(proxyServerOptions(limits), (_req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'CONNECT' });
    res.end('edge-tunnel: this listener only takes CONNECT nodeIP:port\n');
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => void handleConnect(ctx, req, socket, head));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseClient(ctx, err, socket));
  return server;
}

function handleConnect(ctx: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const traceId = traceIdOf(req);
  const audit = new Audit(ctx.log, ctx.metrics, 'connect', req, traceId);
  socket.on('error', destroyOnError);
  const fail = (f: Failure): void => {
    writeRawFailure(socket, f);
    audit.finish({ status: f.status, reason: f.reason });
  };
  const dest = connectDest(req.url);
  if (isFailure(dest)) return fail(dest);
  audit.record.port = dest.port;
  const r = route(ctx, dest, channelOf(ctx.portConfig(), dest.port) ?? ctx.channel);
  if (isFailure(r)) return fail(r);
  audit.record.nodeName = r.nodeName;
  const tunnel = openTunnel(ctx, r, 'connect', traceId);
  if (isFailure(tunnel)) return fail(tunnel);
  const { stream } = tunnel;
  if (head.length > 0) stream.write(head);
  socket.pause();
  tunnel.whenOpened((err) => {
    if (err !== undefined) return fail(tunnel.failure(err));
    if (socket.destroyed) {
      stream.reset('CANCEL', 'caller went away');
      return audit.finish({ status: 499, reason: 'CALLER_GONE' });
    }
    socket.write(ESTABLISHED);
    relay(socket, stream, stream, {
      onEarlyError: (e) => {
        socket.destroy();
        audit.finish({ status: 200, reason: tunnel.failure(e).reason });
      },
      onDone: (res) => audit.finish({ status: 200, bytesIn: head.length + res.bytesIn, bytesOut: res.bytesOut }),
      onIdle: (idleMs) => idleLine(ctx, audit, idleMs),
    }, false, ctx.relayIdleTimeoutMs ?? DEFAULT_RELAY_IDLE_TIMEOUT_MS);
    socket.resume();
  });
}

const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n', 'latin1');

function destroyOnError(this: Duplex): void {
  this.destroy();
}
