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
import type { RelayHooks, RelayResult } from './relay.js';
import { openTunnel, route } from './tunnel.js';
import type { OpenWaiter, Tunnel } from './tunnel.js';

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
  const call = new ConnectCall(ctx, socket, new Audit(ctx.log, ctx.metrics, 'connect', req, traceId), head.length);
  socket.on('error', destroyOnError);
  const dest = connectDest(req.url);
  if (isFailure(dest)) return call.fail(dest);
  call.audit.record.port = dest.port;
  const r = route(ctx, dest, channelOf(ctx.portConfig(), dest.port) ?? ctx.channel);
  if (isFailure(r)) return call.fail(r);
  call.audit.record.nodeName = r.nodeName;
  const tunnel = openTunnel(ctx, r, 'connect', traceId);
  if (isFailure(tunnel)) return call.fail(tunnel);
  if (head.length > 0) tunnel.stream.write(head);
  socket.pause();
  call.tunnel = tunnel;
  tunnel.whenOpened(call);
}

/**
 * One CONNECT from the moment its tunnel is asked for to its audit line: waits for the agent,
 * then relays. One object per call, its own methods as the hooks (no closures per call).
 */
class ConnectCall implements OpenWaiter, RelayHooks {
  tunnel: Tunnel | undefined;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly socket: Duplex,
    readonly audit: Audit,
    private readonly headBytes: number,
  ) {}

  fail(f: Failure): void {
    writeRawFailure(this.socket, f);
    this.audit.finish({ status: f.status, reason: f.reason });
  }

  tunnelOpened(err?: unknown): void {
    const { socket } = this;
    const tunnel = this.tunnel!;
    if (err !== undefined) return this.fail(tunnel.failure(err));
    if (socket.destroyed) {
      tunnel.stream.reset('CANCEL', 'caller went away');
      return this.audit.finish({ status: 499, reason: 'CALLER_GONE' });
    }
    socket.write(ESTABLISHED);
    relay(socket, tunnel.stream, tunnel.stream, this, false, this.ctx.relayIdleTimeoutMs ?? DEFAULT_RELAY_IDLE_TIMEOUT_MS);
    socket.resume();
  }

  onEarlyError(err: unknown): void {
    this.socket.destroy();
    this.audit.finish({ status: 200, reason: this.tunnel!.failure(err).reason });
  }

  onDone(res: RelayResult): void {
    this.audit.finish({ status: 200, bytesIn: this.headBytes + res.bytesIn, bytesOut: res.bytesOut });
  }

  onIdle(idleMs: number): void {
    idleLine(this.ctx, this.audit, idleMs);
  }
}

const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n', 'latin1');

function destroyOnError(this: Duplex): void {
  this.destroy();
}
