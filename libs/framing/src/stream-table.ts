// A session's streams by id: the ids each side may use (the client opens odd ids, the server even
// ones, each side strictly increasing), the streams open now, how many of them the peer opened, the
// ones whose OPEN waits for the peer's SETTINGS, and the receive credit committed to them (the
// session's receive budget bounds it; windows grow within it).
import { MAX_STREAM_ID } from './constants.js';
import { FramingError, FramingErrorCode, type ErrorCodeName } from './errors.js';
import { grantDue, grownWindow, startWindow, windowLimited } from './flow.js';
import type { PeerSettings } from './peer-settings.js';
import type { ResolvedOptions } from './options.js';
import type { WireStream } from './wire-stream.js';

/** Why a peer's OPEN is refused (the RESET's code and reason). */
export interface Refusal {
  code: ErrorCodeName;
  reason: string;
}

/** The options the table enforces. */
type TableLimits = Pick<ResolvedOptions, 'maxStreams' | 'initialWindow' | 'receiveBudget' | 'maxWindow' | 'startRate' | 'openTimeoutMs'>;

export class StreamTable {
  readonly streams = new Map<number, WireStream>();
  /** the id this side opens next */
  nextId: number;
  /** highest stream id the peer opened (ids must increase) */
  lastPeerId = 0;
  /** receive windows of the open streams, in bytes */
  committed = 0;
  /** open streams the peer opened */
  peerStreams = 0;
  /** streams this side opened, ever */
  opened = 0;
  /** streams this side opened before the peer's SETTINGS arrived: their OPEN waits */
  private unsent: WireStream[] | undefined;
  /** waiting for the table to empty (close()) */
  private emptyWaiters: Array<() => void> | undefined;

  constructor(
    private readonly role: 'client' | 'server',
    private readonly limits: TableLimits,
  ) {
    this.nextId = role === 'client' ? 1 : 2;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Why this side may not open a stream now, given what the peer announced (undefined: it may). */
  openProblem(peer: PeerSettings | undefined): FramingError | undefined {
    if (this.nextId > MAX_STREAM_ID) return new FramingError(FramingErrorCode.IDS_EXHAUSTED, 'stream ids exhausted');
    // the peer's MAX_STREAMS bounds the streams we open: more would only be refused on the wire
    if (peer && this.streams.size - this.peerStreams >= peer.maxStreams) {
      return new FramingError(FramingErrorCode.STREAM_LIMIT, `the peer accepts at most ${peer.maxStreams} concurrent streams`);
    }
    return undefined;
  }

  /** Why a new stream from the peer would break this side's limits (undefined: it fits). */
  refusal(): Refusal | undefined {
    const { maxStreams, initialWindow, receiveBudget } = this.limits;
    if (this.peerStreams >= maxStreams) return { code: 'REFUSED', reason: `too many streams (max ${maxStreams})` };
    if (this.committed + initialWindow > receiveBudget) return { code: 'REFUSED', reason: `receive budget of ${receiveBudget} bytes exhausted` };
    return undefined;
  }

  get(id: number): WireStream | undefined {
    return this.streams.get(id);
  }

  /** An id of the peer's parity. */
  isPeerId(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'server');
  }

  /** A stream id that this session or the peer has used before (frames for it may still be in flight). */
  wasUsed(id: number): boolean {
    return this.isPeerId(id) ? id <= this.lastPeerId : id < this.nextId;
  }

  /**
   * Adds a stream this side opens, under `nextId`; `unsent`: its OPEN waits for the peer's SETTINGS.
   * Without OPEN_OK or RESET within `openTimeoutMs` it fails with TIMEOUT.
   */
  addLocal(stream: WireStream, unsent: boolean): void {
    this.nextId += 2;
    this.opened += 1;
    this.add(stream);
    if (unsent) (this.unsent ??= []).push(stream);
    const ms = this.limits.openTimeoutMs;
    stream.openTimer = setTimeout(() => stream.fail('TIMEOUT', `no answer to OPEN within ${ms} ms`), ms);
    stream.openTimer.unref();
  }

  /** OPEN_OK arrived for a stream this side opened: its open deadline is off. */
  answered(stream: WireStream): void {
    if (stream.openTimer) clearTimeout(stream.openTimer);
    stream.openTimer = undefined;
  }

  /**
   * The receive window a new stream starts with: sized for `startRate` over `minRttMs` (flow.ts), its
   * part above initialWindow lent only while the whole window keeps the committed credit within half
   * the receive budget: the other half always stays for initial windows of the streams still to come.
   */
  startWindow(minRttMs: number | undefined): number {
    const { initialWindow, maxWindow, startRate, receiveBudget } = this.limits;
    return startWindow(initialWindow, maxWindow, startRate, minRttMs, receiveBudget / 2 - this.committed - initialWindow);
  }

  /** The WINDOW offset to grant `stream` now that its consumer took some bytes (0: none due). */
  grantDue(stream: WireStream): number {
    const offset = grantDue(stream.consumed, stream.window, stream.granted);
    if (offset !== 0) stream.granted = offset;
    return offset;
  }

  /** The streams whose OPEN waited for the peer's SETTINGS, oldest first (they wait no longer). */
  takeUnsent(): WireStream[] {
    const unsent = this.unsent ?? [];
    this.unsent = undefined;
    return unsent;
  }

  /** Adds a stream the peer opened (its id already checked and recorded as `lastPeerId`). */
  addPeer(stream: WireStream): void {
    this.peerStreams += 1;
    this.add(stream);
  }

  /**
   * The peer reported `stream` BLOCKED at `now` (performance.now()): doubles its receive window when
   * the window is what limits it (flow.ts) and the receive budget has room. `minRttMs`: the path's delay.
   */
  growIfLimited(stream: WireStream, now: number, minRttMs: number | undefined): void {
    const consumed = stream.consumed;
    const limited = windowLimited(now - stream.epochAt, consumed - stream.epochConsumed, stream.window, minRttMs);
    if (limited !== undefined) {
      stream.epochAt = now;
      stream.epochConsumed = consumed;
    }
    if (!limited) return;
    const before = stream.window;
    stream.window = grownWindow(before, stream.readableLength, this.limits.maxWindow, this.limits.receiveBudget - this.committed);
    this.committed += stream.window - before;
  }

  /** Drops a stream; false when it is not (or no longer) in the table. */
  remove(stream: WireStream): boolean {
    if (stream.openTimer) clearTimeout(stream.openTimer);
    if (this.streams.get(stream.id) !== stream) return false;
    this.streams.delete(stream.id);
    this.committed -= stream.window;
    if (!stream.local) this.peerStreams -= 1;
    const i = this.unsent?.indexOf(stream) ?? -1;
    if (i >= 0) this.unsent!.splice(i, 1);
    if (this.streams.size === 0 && this.emptyWaiters !== undefined) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = undefined;
      for (const wake of waiters) wake();
    }
    return true;
  }

  /** Resolves once no stream is open, or after `deadlineMs`, whichever is first. */
  whenEmpty(deadlineMs: number): Promise<void> {
    if (this.streams.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      timer.unref();
      (this.emptyWaiters ??= []).push(() => (clearTimeout(timer), resolve()));
    });
  }

  /** A snapshot, for ending every stream (ending one changes the table). */
  all(): WireStream[] {
    return [...this.streams.values()];
  }

  private add(stream: WireStream): void {
    // the peer's credit is the INITIAL_WINDOW we announced; a start window above it is granted by the
    // WINDOW the session sends next (grantDue)
    stream.granted = this.limits.initialWindow;
    this.streams.set(stream.id, stream);
    this.committed += stream.window;
  }
}
