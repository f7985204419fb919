// One server-opened stream: allow-list check, local dial with a timeout (never blocking other
// streams), then a byte relay both ways with backpressure and half-close. Per stream: while dialing
// a Dial (its timer and three listeners, all dropped once it settles), then a TargetRelay and two
// splices: objects and shared listeners, no closures.
import { connect, type Socket } from 'node:net';
import { IdleSweep, splice, type IdleWatched, type Splice, type SpliceHooks, type Stream } from '@edge-tunnel/framing';
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
  /** no byte either way for this long: the stream is reset with TIMEOUT (0 or absent: never) */
  streamIdleTimeoutMs?: number;
  metrics: AgentMetrics;
  log: Logger;
}

/** Serves one stream opened by the server. Returns at once; all work is event-driven. */
export function serveStream(stream: Stream, ctx: RelayContext): void {
  const { host, port } = stream.meta;
  stream.on('error', ignore); // a server RESET; handled on 'close'
  const verdict = ctx.allowList.check(host, port);
  if (!verdict.allowed) {
    ctx.metrics.streams.inc({ result: 'refused' });
    ctx.log.warn({ ...fieldsOf(stream), code: 'REFUSED', reason: verdict.reason }, 'stream refused');
    stream.refuse('REFUSED', verdict.reason);
    return;
  }
  new Dial(stream, ctx);
}

function ignore(): void {}

/** The log fields of a stream, built when a line is written (a relay keeps no copy). */
function fieldsOf(stream: Stream): { streamId: number; targetHost: string; targetPort: number; traceId: unknown } {
  return { streamId: stream.id, targetHost: stream.meta.host, targetPort: stream.meta.port, traceId: stream.meta.traceId };
}

/** The dial of one target: settles once (connect, error, timeout, or the stream closing first). */
class Dial {
  private readonly started = performance.now();
  private readonly socket: Socket;
  private readonly timer: NodeJS.Timeout;
  private readonly onError = this.failed.bind(this);
  private readonly onConnect = this.connected.bind(this);
  private readonly onStreamClose = this.streamClosed.bind(this);
  private settled = false;

  constructor(
    private readonly stream: Stream,
    private readonly ctx: RelayContext,
  ) {
    this.socket = ctx.dialTarget(stream.meta.host, stream.meta.port);
    this.timer = setTimeout(dialTimedOut, ctx.dialTimeoutMs, this);
    this.socket.on('error', this.onError);
    this.socket.on('connect', this.onConnect);
    stream.on('close', this.onStreamClose);
  }

  timedOut(): void {
    this.refuse('TIMEOUT', `dial ${this.target} timed out after ${this.ctx.dialTimeoutMs} ms`);
  }

  private refuse(code: 'CONNECT_FAILED' | 'TIMEOUT', reason: string): void {
    if (!this.settle()) return;
    this.socket.destroy();
    this.ctx.metrics.streams.inc({ result: 'failed' });
    this.ctx.log.warn({ ...fieldsOf(this.stream), code, reason }, 'target dial failed');
    this.stream.refuse(code, reason);
  }

  private get target(): string {
    return `${this.stream.meta.host}:${this.stream.meta.port}`;
  }

  /** Stops the timer and drops the dial's listeners, so nothing of the dial outlives it. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.socket.removeListener('error', this.onError);
    this.socket.removeListener('connect', this.onConnect);
    this.stream.removeListener('close', this.onStreamClose);
    this.ctx.metrics.dialDuration.observe((performance.now() - this.started) / 1000);
    return true;
  }

  private failed(err: NodeJS.ErrnoException): void {
    this.refuse('CONNECT_FAILED', `dial ${this.target}: ${err.code ?? 'ERROR'} ${err.message}`);
  }

  private connected(): void {
    if (this.settle()) new TargetRelay(this.stream, this.socket, this.ctx, this.started);
  }

  private streamClosed(): void {
    if (!this.settle()) return;
    // the server reset or the session died while we were dialing
    this.socket.destroy();
    this.ctx.log.debug({ ...fieldsOf(this.stream), code: this.stream.resetCode }, 'stream ended before the target answered');
  }
}

function dialTimedOut(dial: Dial): void {
  dial.timedOut();
}

/** stream ↔ target socket: splice() honours write() and 'drain' both ways; 'end' → end() carries each FIN across. */
class TargetRelay implements IdleWatched, SpliceHooks {
  private readonly down: Splice;
  private readonly up: Splice;
  private readonly idleMs: number;
  /** bytes of each direction already added to metrics.bytes (in batches: see COUNT_BATCH) */
  private countedIn = 0;
  private countedOut = 0;

  constructor(
    private readonly stream: Stream,
    private readonly socket: Socket,
    private readonly ctx: RelayContext,
    private readonly started: number,
  ) {
    const { metrics } = ctx;
    socket.setNoDelay(true);
    stream.accept();
    metrics.streams.inc({ result: 'accepted' });
    metrics.streamsActive.inc();
    ctx.log.debug(fieldsOf(stream), 'stream accepted');
    this.down = splice(stream, socket, this);
    this.up = splice(socket, stream, this);
    (socket as Owned)[kRelay] = this;
    (stream as Owned)[kRelay] = this;
    socket.on('error', onSocketError);
    stream.on('close', onStreamClose);
    this.idleMs = ctx.streamIdleTimeoutMs ?? 0;
    if (this.idleMs > 0) IdleSweep.of(this.idleMs).add(this);
  }

  /** Bytes both ways so far (the idle sweep's activity). */
  get bytes(): number {
    return this.down.bytes + this.up.bytes;
  }

  /** SpliceHooks: a labelled inc() per chunk cost more than the relay's own work, so bytes are counted in batches. */
  onData(chunk: Buffer, sp: Splice): void {
    const total = sp.bytes + chunk.length;
    if (total - (sp === this.down ? this.countedIn : this.countedOut) >= COUNT_BATCH) this.count(sp, total);
  }

  onEnd(sp: Splice): void {
    this.count(sp, sp.bytes);
  }

  closeIdle(idleMs: number): void {
    const reason = `no byte either way for ${idleMs} ms`;
    this.ctx.log.warn({ ...fieldsOf(this.stream), code: 'TIMEOUT', reason }, 'stream closed: idle timeout');
    this.stream.reset('TIMEOUT', `target ${this.stream.meta.host}:${this.stream.meta.port}: ${reason}`);
    this.socket.destroy();
  }

  /** @internal */
  onSocketError(err: NodeJS.ErrnoException): void {
    const { host, port } = this.stream.meta;
    const reason = `target ${host}:${port}: ${err.code ?? 'ERROR'} ${err.message}`;
    this.ctx.log.warn({ ...fieldsOf(this.stream), code: 'CONNECT_FAILED', reason }, 'target connection failed');
    this.stream.reset('CONNECT_FAILED', reason);
  }

  /** @internal */
  onStreamClose(): void {
    if (this.idleMs > 0) IdleSweep.of(this.idleMs).delete(this);
    this.ctx.metrics.streamsActive.dec();
    this.count(this.down, this.down.bytes);
    this.count(this.up, this.up.bytes);
    // A RESET (either side, or session teardown) drops the local connection at once; a clean
    // end both ways lets the socket flush what it still holds.
    if (this.stream.resetCode !== undefined) this.socket.destroy();
    const durationMs = Math.round(performance.now() - this.started);
    this.ctx.log.debug({ ...fieldsOf(this.stream), code: this.stream.resetCode, durationMs }, 'stream closed');
  }

  /** metrics.bytes{direction} up to `total` bytes of `sp` */
  private count(sp: Splice, total: number): void {
    const down = sp === this.down;
    const fresh = total - (down ? this.countedIn : this.countedOut);
    if (fresh <= 0) return;
    this.ctx.metrics.bytes.inc({ direction: down ? 'in' : 'out' }, fresh);
    if (down) this.countedIn = total;
    else this.countedOut = total;
  }
}

/** Bytes a relay adds to the counter at once (per direction). */
const COUNT_BATCH = 1024 * 1024;

// Listeners shared by every relay: each finds its relay on the stream it listens to (a property
// instead of a bound function per listener).
const kRelay = Symbol('target relay');
type Owned = { [kRelay]?: TargetRelay };

function onSocketError(this: Owned, err: NodeJS.ErrnoException): void {
  this[kRelay]?.onSocketError(err);
}
function onStreamClose(this: Owned): void {
  this[kRelay]?.onStreamClose();
}
