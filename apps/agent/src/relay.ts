// One server-opened stream: allow-list check, local dial with a timeout (never blocking other
// streams), then a byte relay both ways with backpressure and half-close. The stream is a
// SocketStream: once the target answers, the stream relays with its socket itself. Per stream one
// TargetRelay (dial, then the relay's bookkeeping) and shared listeners: no closures, no splices.
import { connect, type Socket } from 'node:net';
import { IdleSweep, SocketStream, type IdleWatched, type SocketStreamOwner } from '@edge-tunnel/framing';
import type { Logger } from 'pino';
import type { AllowList } from './allow-list.js';
import type { AgentMetrics } from './metrics.js';

/** Dials a local target; the socket emits 'connect' or 'error' (tests inject one that never connects). */
export type DialTarget = (host: string, port: number) => Socket;

export const dialTcp: DialTarget = (host, port) => connect({ host, port, allowHalfOpen: true });

export interface RelayContext {
  allowList: AllowList;
  dialTarget: DialTarget;
  dialTimeoutMs: number;
  /** no byte either way for this long: the stream is reset with TIMEOUT (0: never; --stream-idle-timeout-ms) */
  streamIdleTimeoutMs: number;
  metrics: AgentMetrics;
  log: Logger;
}

/** Serves one stream opened by the server. Returns at once; all work is event-driven. */
export function serveStream(stream: SocketStream, ctx: RelayContext): void {
  const { host, port } = stream.meta;
  const verdict = ctx.allowList.check(host, port);
  if (!verdict.allowed) {
    ctx.metrics.streams.inc({ result: 'refused' });
    ctx.log.warn({ ...fieldsOf(stream), code: 'REFUSED', reason: verdict.reason }, 'stream refused');
    stream.refuse('REFUSED', verdict.reason);
    return;
  }
  new TargetRelay(stream, ctx);
}

/** Adds the bytes of live relays to metrics.bytes (at each scrape: nothing is counted per chunk). */
export function countLiveBytes(streams: Iterable<unknown>): void {
  for (const s of streams) if (s instanceof SocketStream && s.owner instanceof TargetRelay) s.owner.count();
}

/** The log fields of a stream, built when a line is written (a relay keeps no copy). */
function fieldsOf(stream: SocketStream): { streamId: number; targetHost: string; targetPort: number; traceId: unknown } {
  return { streamId: stream.id, targetHost: stream.meta.host, targetPort: stream.meta.port, traceId: stream.meta.traceId };
}

/**
 * One stream to one target: dials (settles once: connect, error, timeout, or the stream ending
 * first), then the stream relays with the socket and this object keeps the books (metrics, idle
 * limit, log lines) as the stream's owner.
 */
class TargetRelay implements SocketStreamOwner, IdleWatched {
  private readonly started = performance.now();
  private readonly socket: Socket;
  private timer: NodeJS.Timeout | undefined;
  private dialing = true;
  /** bytes of each direction already added to metrics.bytes */
  private countedIn = 0;
  private countedOut = 0;

  constructor(
    private readonly stream: SocketStream,
    private readonly ctx: RelayContext,
  ) {
    stream.owner = this;
    this.socket = ctx.dialTarget(stream.meta.host, stream.meta.port);
    (this.socket as Owned)[kRelay] = this;
    this.timer = setTimeout(dialTimedOut, ctx.dialTimeoutMs, this);
    this.socket.on('error', onDialError);
    this.socket.on('connect', onDialConnect);
  }

  /** Bytes both ways so far (the idle sweep's activity). */
  get bytes(): number {
    return this.stream.received + this.stream.sent;
  }

  /** @internal */
  dialTimedOut(): void {
    this.refuse('TIMEOUT', `dial ${this.target} timed out after ${this.ctx.dialTimeoutMs} ms`);
  }

  /** @internal */
  dialFailed(err: NodeJS.ErrnoException): void {
    this.refuse('CONNECT_FAILED', `dial ${this.target}: ${err.code ?? 'ERROR'} ${err.message}`);
  }

  /** @internal */
  connected(): void {
    if (!this.settle()) return;
    const { stream, socket, ctx } = this;
    socket.setNoDelay(true);
    stream.accept();
    ctx.metrics.streams.inc({ result: 'accepted' });
    ctx.metrics.streamsActive.inc();
    ctx.log.debug(fieldsOf(stream), 'stream accepted');
    stream.attach(socket);
    const idleMs = ctx.streamIdleTimeoutMs;
    if (idleMs > 0) IdleSweep.of(idleMs).add(this);
  }

  closeIdle(idleMs: number): void {
    const reason = `no byte either way for ${idleMs} ms`;
    this.ctx.log.warn({ ...fieldsOf(this.stream), code: 'TIMEOUT', reason }, 'stream closed: idle timeout');
    this.stream.reset('TIMEOUT', `target ${this.target}: ${reason}`);
  }

  /** SocketStreamOwner: the target connection failed, or closed before the stream was over. */
  socketLost(stream: SocketStream, err: NodeJS.ErrnoException | undefined): void {
    const reason = `target ${this.target}: ${err ? `${err.code ?? 'ERROR'} ${err.message}` : 'closed the connection'}`;
    this.ctx.log.warn({ ...fieldsOf(stream), code: 'CONNECT_FAILED', reason }, 'target connection failed');
    stream.reset('CONNECT_FAILED', reason);
  }

  /** SocketStreamOwner: the stream is over (a RESET has destroyed the socket; a clean end lets it flush). */
  closed(stream: SocketStream): void {
    if (this.dialing) {
      // the server reset or the session died while we were dialing
      this.settle();
      this.socket.destroy();
      this.ctx.log.debug({ ...fieldsOf(stream), code: stream.resetCode }, 'stream ended before the target answered');
      return;
    }
    const idleMs = this.ctx.streamIdleTimeoutMs;
    if (idleMs > 0) IdleSweep.of(idleMs).delete(this);
    this.ctx.metrics.streamsActive.dec();
    this.count();
    const durationMs = Math.round(performance.now() - this.started);
    this.ctx.log.debug({ ...fieldsOf(stream), code: stream.resetCode, durationMs }, 'stream closed');
  }

  /** Adds what the stream moved since the last count to metrics.bytes{direction}. */
  count(): void {
    const { received, sent } = this.stream;
    const { bytes } = this.ctx.metrics;
    if (received > this.countedIn) bytes.inc({ direction: 'in' }, received - this.countedIn);
    if (sent > this.countedOut) bytes.inc({ direction: 'out' }, sent - this.countedOut);
    this.countedIn = received;
    this.countedOut = sent;
  }

  private get target(): string {
    return `${this.stream.meta.host}:${this.stream.meta.port}`;
  }

  private refuse(code: 'CONNECT_FAILED' | 'TIMEOUT', reason: string): void {
    if (!this.settle()) return;
    this.socket.destroy();
    this.ctx.metrics.streams.inc({ result: 'failed' });
    this.ctx.log.warn({ ...fieldsOf(this.stream), code, reason }, 'target dial failed');
    this.stream.refuse(code, reason);
  }

  /** Ends the dial: stops the timer and drops the dial's listeners. */
  private settle(): boolean {
    if (!this.dialing) return false;
    this.dialing = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.socket.removeListener('error', onDialError);
    this.socket.removeListener('connect', onDialConnect);
    this.ctx.metrics.dialDuration.observe((performance.now() - this.started) / 1000);
    return true;
  }
}

// Listeners shared by every dial: each finds its relay on the socket (a property instead of a
// bound function per listener).
const kRelay = Symbol('target relay');
type Owned = { [kRelay]?: TargetRelay };

function onDialError(this: Owned, err: NodeJS.ErrnoException): void {
  this[kRelay]?.dialFailed(err);
}
function onDialConnect(this: Owned): void {
  this[kRelay]?.connected();
}
function dialTimedOut(relay: TargetRelay): void {
  relay.dialTimedOut();
}
