// From a destination to an open stream: resolve with dnat, open a stream on the node's session,
// count the result. For the HTTPS channel, wrap the stream in TLS originated with the server's
// kubelet-client identity.
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { LOCALHOST, isLocalhostPort, resolve } from '@edge-tunnel/dnat';
import type { Channel, Dest, Resolution } from '@edge-tunnel/dnat';
import type { OpenMeta, Session, SocketStream, SocketStreamOwner, Stream } from '@edge-tunnel/framing';
import type { AgentSession } from '../agents/registry.js';
import { isFailure } from './dest.js';
import type { OriginateTls, ProxyContext } from './context.js';
import { missFailure, streamFailure } from './http-errors.js';
import type { Failure } from './http-errors.js';
import { QuotaReporter, quotaFailure } from './quota-refusals.js';
import { tunnelError } from './tunnel-errors.js';
import { StreamBooks, type StreamClaim, type StreamQuotaLimits } from './stream-quota.js';

export type Route = Resolution<AgentSession>;

/** Resolves `dest` on `channel`; a miss becomes a Failure (and is counted). */
export function route(ctx: ProxyContext, dest: Dest, channel: Channel = ctx.channel): Route | Failure {
  const config = ctx.portConfig();
  const r = resolve(ctx.registry.table, config, dest, channel);
  if (!r.ok) {
    ctx.metrics.misses.inc({ reason: r.reason });
    return missFailure(r);
  }
  const refused = ceilingRefusal(r, isLocalhostPort(config, r.targetPort)) ?? pausedRefusal(r);
  if (refused) ctx.metrics.misses.inc({ reason: refused.reason });
  return refused ?? r;
}

/** Seconds a caller is told to wait while its node's session is paused: a resume usually takes ~1 s. */
export const PAUSED_RETRY_AFTER_S = 2;

/**
 * The node's session lost its connection and waits for a resume: a new stream is answered at once
 * (503 TUNNEL_PAUSED, Retry-After) instead of waiting. Waiting would hold the caller's socket and an
 * OPEN in the replay buffer for up to the grace period, with no answer at all when the grace runs
 * out; callers (kube-apiserver, Prometheus) retry on their own, and open streams are not affected.
 */
function pausedRefusal(r: Route): Failure | undefined {
  const link = r.session.resume?.link;
  if (link === undefined || !link.paused) return undefined;
  const since = link.pausedAt !== undefined ? Date.now() - link.pausedAt : 0;
  return {
    ...tunnelError('TUNNEL_PAUSED'),
    retryAfterS: PAUSED_RETRY_AFTER_S,
    message: `edge node ${r.nodeName}: its agent connection was lost ${since} ms ago; the session is paused until the agent resumes it (open streams continue then); retry in ${PAUSED_RETRY_AFTER_S} s`,
  };
}

/**
 * The agent would refuse this configured port (its hello ceiling excludes it): answered here, naming
 * the flag, instead of a round trip that ends in a bare REFUSED. Agents that follow no port config
 * (older ones) announce no ceiling and decide alone, as before. The kubelet ports are never capped.
 */
function ceilingRefusal(r: Route, localhost: boolean): Failure | undefined {
  const ceiling = r.session.portCeiling;
  if (ceiling === undefined || !r.session.session.peerTakesConfig) return undefined;
  const port = r.targetPort;
  if (!localhost && (port === 10250 || port === 10255)) return undefined;
  const [set, flag, env] = localhost
    ? [ceiling.localhost, '--localhost-ports', 'EDGE_TUNNEL_LOCALHOST_PORTS']
    : [ceiling.node, '--allow-ports', 'EDGE_TUNNEL_ALLOW_PORTS'];
  if (set.has(port)) return undefined;
  const where = localhost ? `${LOCALHOST}:${port} (a localhost-proxy-ports port)` : `port ${port}`;
  return {
    ...tunnelError('AGENT_CEILING'),
    message:
      `edge node ${r.nodeName}: ${where} is configured, but the node's agent refuses it: its ${flag} ceiling ` +
      `(${set.size === 0 ? 'none' : clip(set.toString())}) does not include it; add ${port} to ${env} on ${r.nodeName}` +
      `${localhost ? '' : ' (or unset it to follow the port config)'}, or remove it from the port config`,
  };
}

const clip = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

/** An opened stream with its failure (if it failed): `failure()` maps it to a status. */
export interface Tunnel {
  stream: Stream;
  failure(fallback?: unknown): Failure;
}

/** Opens a stream to the route's target; a Failure if the node is at its stream limit or the session takes no streams. */
export function openTunnel(ctx: ProxyContext, r: Route, kind: string, traceId: string, caller: Caller): Tunnel | Failure {
  const claim: StreamClaim = { ...caller, nodeName: r.nodeName, listener: ctx.listener };
  const stream = openOnNode(ctx, r, kind, traceId, claim, openDuplex);
  return isFailure(stream) ? stream : new StreamTunnel(ctx, r, claim, stream);
}

/** Who asks for a stream, for its quotas (proxy/caller-key.ts). */
export type Caller = Pick<StreamClaim, 'authenticated' | 'caller'>;

/**
 * Opens a stream for a raw relay (`owner.opened()` on OPEN_OK, then attach the caller's socket). The
 * owner keeps the tunnel's books: `countOpened` in opened(), `tunnelClosed` in closed().
 */
export function openSocketTunnel(
  ctx: ProxyContext,
  r: Route,
  kind: string,
  traceId: string,
  claim: StreamClaim,
  owner: SocketStreamOwner,
): SocketStream | Failure {
  return openOnNode(ctx, r, kind, traceId, claim, (session, meta) => session.openSocket(meta, owner));
}

const openDuplex = (session: Session, meta: OpenMeta): Stream => session.open(meta);

function openOnNode<S extends object>(
  ctx: ProxyContext,
  r: Route,
  kind: string,
  traceId: string,
  claim: StreamClaim,
  open: (session: Session, meta: OpenMeta) => S,
): S | Failure {
  const gate = gateOf(ctx);
  const limits = quotaLimits(ctx);
  const refusal = gate.books.acquire(claim, limits);
  if (refusal !== undefined) {
    ctx.metrics.streams.inc({ result: refusal.quota === 'node' ? 'node_limit' : 'quota', transport: transportOf(r.session) });
    gate.reporter.refused(ctx.log, claim, refusal, limits);
    return quotaFailure(claim, refusal, `edge node ${r.nodeName} (${r.targetHost}:${r.targetPort})`);
  }
  claim.transport = transportOf(r.session);
  try {
    return open(r.session.session, { host: r.targetHost, port: r.targetPort, kind, traceId, compress: ctx.compression });
  } catch (err) {
    gate.books.release(claim);
    ctx.metrics.streams.inc({ result: 'session_gone', transport: claim.transport });
    return streamFailure(err, r.nodeName, r.targetHost, r.targetPort);
  }
}

function quotaLimits(ctx: ProxyContext): StreamQuotaLimits {
  return { ...ctx.streamQuotas, maxStreamsPerNode: ctx.maxStreamsPerNode };
}

/** The `transport` label of a session's metrics. */
function transportOf(agent: { transport?: 'tls' | 'websocket' }): 'tls' | 'websocket' {
  return agent.transport ?? 'tls';
}

/** The agent accepted a tunnel stream. */
export function countOpened(ctx: ProxyContext, claim: StreamClaim): void {
  ctx.metrics.streams.inc({ result: 'opened', transport: claim.transport ?? 'tls' });
}

/** A tunnel stream failed before the agent accepted it: counted by its wire code. */
export function countFailed(ctx: ProxyContext, err: unknown, claim: StreamClaim): void {
  ctx.metrics.streams.inc({ result: ((err as { wireCode?: string } | undefined)?.wireCode ?? 'error').toLowerCase(), transport: claim.transport ?? 'tls' });
}

/** A tunnel stream to `nodeName` ended: one fewer open to the node, its bytes counted. */
export function tunnelClosed(ctx: ProxyContext, claim: StreamClaim, stream: { received: number; sent: number }): void {
  gateOf(ctx).books.release(claim);
  const transport = claim.transport ?? 'tls';
  ctx.metrics.bytes.inc({ direction: 'in', transport }, stream.received);
  ctx.metrics.bytes.inc({ direction: 'out', transport }, stream.sent);
}

/** A tunnel adds three shared listeners to its stream and finds itself on the stream: no closures per stream. */
class StreamTunnel implements Tunnel {
  private error: unknown;
  private counted = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly r: Route,
    private readonly claim: StreamClaim,
    readonly stream: Stream,
  ) {
    (stream as Owned)[kTunnel] = this;
    stream.on('opened', onOpened);
    stream.on('error', onError);
    stream.on('close', onClose);
  }

  failure(fallback?: unknown): Failure {
    return streamFailure(this.error ?? fallback, this.r.nodeName, this.r.targetHost, this.r.targetPort);
  }

  /** @internal */
  onOpened(): void {
    this.counted = true;
    countOpened(this.ctx, this.claim);
  }

  /** @internal */
  onError(err: Error & { wireCode?: string }): void {
    this.error ??= err;
    if (!this.counted) countFailed(this.ctx, err, this.claim);
    this.counted = true;
  }

  /** @internal */
  onClose(): void {
    tunnelClosed(this.ctx, this.claim, this.stream);
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

/** Why a stream that closed without an error never relayed. */
export const CLOSED_BEFORE_OPEN = 'stream closed before the agent answered';

/** Open tunnel streams and their quota refusals, shared by every listener of one server (keyed by its registry). */
const gates = new WeakMap<object, { books: StreamBooks; reporter: QuotaReporter }>();

function gateOf(ctx: ProxyContext): { books: StreamBooks; reporter: QuotaReporter } {
  let g = gates.get(ctx.registry);
  if (g === undefined) gates.set(ctx.registry, (g = { books: new StreamBooks(), reporter: new QuotaReporter(ctx.metrics.streamRefusals) }));
  return g;
}

/** Streams currently open to `nodeName` through this registry's listeners. */
export function openStreamsToNode(ctx: Pick<ProxyContext, 'registry'>, nodeName: string): number {
  return gates.get(ctx.registry)?.books.open(nodeName) ?? 0;
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
