// From a destination to an open stream: resolve with dnat, open a stream on the node's session,
// count the result. For the HTTPS channel, wrap the stream in TLS originated with the server's
// kubelet-client identity.
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { resolve } from '@edge-tunnel/dnat';
import type { Channel, Dest, Resolution } from '@edge-tunnel/dnat';
import type { Stream } from '@edge-tunnel/framing';
import type { AgentSession } from '../agents/registry.js';
import { DEFAULT_MAX_STREAMS_PER_NODE } from './context.js';
import type { OriginateTls, ProxyContext } from './context.js';
import { missFailure, streamFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';

export type Route = Resolution<AgentSession>;

/** Resolves `dest` on `channel`; a miss becomes a Failure (and is counted). */
export function route(ctx: ProxyContext, dest: Dest, channel: Channel = ctx.channel): Route | Failure {
  const r = resolve(ctx.registry.table, ctx.portConfig(), dest, channel);
  if (r.ok) return r;
  ctx.metrics.misses.inc({ reason: r.reason });
  return missFailure(r);
}

/** An opened stream with its failure (if it failed): `failure()` maps it to a status. */
export interface Tunnel {
  stream: Stream;
  failure(fallback?: unknown): Failure;
  /** `tunnelOpened()` once the agent accepted the stream, `tunnelOpened(err)` if it failed or closed before (one waiter) */
  whenOpened(waiter: OpenWaiter): void;
}

export interface OpenWaiter {
  tunnelOpened(err?: unknown): void;
}

/** Opens a stream to the route's target; throws a Failure if the session no longer takes streams. */
export function openTunnel(ctx: ProxyContext, r: Route, kind: string, traceId: string): Tunnel | Failure {
  const perNode = nodeStreams(ctx);
  const limit = ctx.maxStreamsPerNode ?? DEFAULT_MAX_STREAMS_PER_NODE;
  const open = perNode.get(r.nodeName) ?? 0;
  if (open >= limit) {
    ctx.metrics.streams.inc({ result: 'node_limit' });
    ctx.log.warn({ listener: ctx.listener, nodeName: r.nodeName, reason: `${open} open streams, limit ${limit}` }, 'stream refused: node stream limit');
    return { status: 503, reason: 'STREAM_LIMIT', message: `edge node ${r.nodeName} (${r.targetHost}:${r.targetPort}): ${open} streams are open to this node (limit ${limit}); retry later` };
  }
  let stream: Stream;
  try {
    stream = r.session.session.open({ host: r.targetHost, port: r.targetPort, kind, traceId, compress: ctx.compression });
  } catch (err) {
    ctx.metrics.streams.inc({ result: 'session_gone' });
    return streamFailure(err, r.nodeName, r.targetHost, r.targetPort);
  }
  perNode.set(r.nodeName, open + 1);
  return new StreamTunnel(ctx, r, stream, perNode);
}

/**
 * A tunnel adds three shared listeners to its stream (waiting for OPEN_OK included) and finds
 * itself on the stream: no closures, no `once` wrappers per stream.
 */
class StreamTunnel implements Tunnel {
  private error: unknown;
  private counted = false;
  private closed = false;
  private waiter: OpenWaiter | undefined;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly r: Route,
    readonly stream: Stream,
    private readonly perNode: Map<string, number>,
  ) {
    (stream as Owned)[kTunnel] = this;
    stream.on('opened', onOpened);
    stream.on('error', onError);
    stream.on('close', onClose);
  }

  failure(fallback?: unknown): Failure {
    return streamFailure(this.error ?? fallback, this.r.nodeName, this.r.targetHost, this.r.targetPort);
  }

  whenOpened(waiter: OpenWaiter): void {
    if (this.stream.opened) waiter.tunnelOpened();
    else if (this.closed) waiter.tunnelOpened(this.error ?? new Error(CLOSED_BEFORE_OPEN));
    else this.waiter = waiter;
  }

  /** @internal */
  onOpened(): void {
    this.counted = true;
    this.ctx.metrics.streams.inc({ result: 'opened' });
    this.notify();
  }

  /** @internal */
  onError(err: Error & { wireCode?: string }): void {
    this.error ??= err;
    if (!this.counted) this.ctx.metrics.streams.inc({ result: (err.wireCode ?? 'error').toLowerCase() });
    this.counted = true;
    this.notify(err);
  }

  /** @internal */
  onClose(): void {
    this.closed = true;
    const { nodeName } = this.r;
    const left = (this.perNode.get(nodeName) ?? 1) - 1;
    if (left > 0) this.perNode.set(nodeName, left);
    else this.perNode.delete(nodeName);
    this.ctx.metrics.bytes.inc({ direction: 'in' }, this.stream.received);
    this.ctx.metrics.bytes.inc({ direction: 'out' }, this.stream.sent);
    this.notify(this.error ?? new Error(CLOSED_BEFORE_OPEN));
  }

  private notify(err?: unknown): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.tunnelOpened(err);
  }
}

const kTunnel = Symbol('tunnel');
type Owned = { [kTunnel]?: StreamTunnel };

function onOpened(this: Owned): void {
  this[kTunnel]?.onOpened();
}
function onError(this: Owned, err: Error & { wireCode?: string }): void {
  this[kTunnel]?.onError(err);
}
function onClose(this: Owned): void {
  this[kTunnel]?.onClose();
}

const CLOSED_BEFORE_OPEN = 'stream closed before the agent answered';

/** Open tunnel streams per node name, shared by every listener of one server (keyed by its registry). */
const streamsByRegistry = new WeakMap<object, Map<string, number>>();

function nodeStreams(ctx: ProxyContext): Map<string, number> {
  let m = streamsByRegistry.get(ctx.registry);
  if (m === undefined) streamsByRegistry.set(ctx.registry, (m = new Map()));
  return m;
}

/** Streams currently open to `nodeName` through this registry's listeners. */
export function openStreamsToNode(ctx: Pick<ProxyContext, 'registry'>, nodeName: string): number {
  return streamsByRegistry.get(ctx.registry)?.get(nodeName) ?? 0;
}

/** TLS to the kubelet through the stream, with the server's kubelet-client identity. */
export function originateTls(stream: Duplex, r: Route, tls: OriginateTls): TLSSocket {
  const socket = tlsConnect({
    socket: stream,
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    rejectUnauthorized: tls.verify,
    host: r.targetHost,
    ...(isIP(r.targetHost) === 0 ? { servername: r.targetHost } : {}),
    ALPNProtocols: ['http/1.1'],
    minVersion: 'TLSv1.2',
  });
  socket.on('error', () => stream.destroy());
  return socket;
}
