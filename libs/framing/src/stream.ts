// One multiplexed stream: a Node Duplex with real half-close (end() sends FIN, a peer FIN ends the
// readable side), RESET with a code and reason, and per-stream flow control. Credit is granted only
// for bytes the local consumer took out of the readable buffer (see `consumed`).
import { Duplex } from 'node:stream';
import { Flag } from './constants.js';
import { CompressBackoff } from './compress-backoff.js';
import { StreamResetError, errorCodeName, type ErrorCodeName } from './errors.js';
import { creditLeft } from './flow.js';
import type { OpenMeta } from './payloads.js';
import type { FrameWriter, Sendable } from './writer.js';

/** What a stream needs from its session. */
export interface StreamHost {
  readonly sendBuffer: number;
  markReady(stream: Stream): void;
  /** the consumer made room: maybe grant credit */
  consumedSome(stream: Stream): void;
  sendOpenOk(stream: Stream): void;
  sendReset(stream: Stream, code: ErrorCodeName, reason: string): void;
  /** the stream is finished on the wire (both FINs, or a RESET): drop it */
  forget(stream: Stream): void;
}

type Callback = (err?: Error | null) => void;

export class Stream extends Duplex implements Sendable {
  readonly id: number;
  readonly meta: OpenMeta;
  /** this side opened the stream */
  readonly local: boolean;
  /** the wire code of the RESET that ended the stream, if one did */
  resetCode: ErrorCodeName | undefined;
  resetReason: string | undefined;
  inReady = false;
  /** OPEN_OK received (local stream) or accept() called (remote stream) */
  opened = false;
  /** OPEN written (local) / OPEN_OK or refusal written (remote): data may be scheduled */
  canSend = false;
  compress = false;
  localFin = false;
  remoteFin = false;
  /** no more frames for this stream will be sent or accepted */
  done = false;
  // send side
  sent = 0;
  limit = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private heldCallback: Callback | null = null;
  private finCallback: Callback | null = null;
  /** created on the first frame of a stream that compresses */
  private backoff: CompressBackoff | undefined;
  // receive side
  received = 0;
  window: number;
  granted: number;
  /** start of the current window-growth epoch (performance.now()) and what was consumed by then */
  epochAt = performance.now();
  epochConsumed = 0;
  openTimer: NodeJS.Timeout | undefined;

  constructor(private readonly host: StreamHost, id: number, meta: OpenMeta, local: boolean, window: number) {
    super({ allowHalfOpen: true });
    this.id = id;
    this.meta = meta;
    this.local = local;
    this.window = window;
    this.granted = window;
  }

  /** Bytes the local consumer has taken: received minus what still sits in the readable buffer. */
  get consumed(): number {
    return this.received - this.readableLength;
  }

  /** Accepts a peer-opened stream: sends OPEN_OK; data written before this is sent after it. */
  accept(): void {
    if (this.local || this.opened || this.done) return;
    this.opened = true;
    this.canSend = true;
    this.host.sendOpenOk(this);
    this.host.markReady(this);
  }

  /** Refuses a peer-opened stream with a wire code and a reason for the opener. */
  refuse(code: ErrorCodeName, reason: string): void {
    this.reset(code, reason);
  }

  /** Ends the stream both ways with RESET; the peer's stream errors with this code and reason. */
  reset(code: ErrorCodeName = 'CANCEL', reason = ''): void {
    if (this.done) return;
    this.endWithReset(code, reason);
    this.host.sendReset(this, code, reason);
    this.destroy();
  }

  /** A protocol fault on this stream: RESET to the peer and an error locally. */
  fail(code: ErrorCodeName, reason: string): void {
    if (this.done) return;
    this.endWithReset(code, reason);
    this.host.sendReset(this, code, reason);
    this.destroy(new StreamResetError(code, reason, false));
  }

  /** The peer reset the stream. */
  onPeerReset(code: number, reason: string): void {
    if (this.done) return;
    const name = errorCodeName(code);
    this.endWithReset(name, reason);
    this.destroy(name === 'NO_ERROR' ? undefined : new StreamResetError(name, reason, true));
  }

  /** Payload bytes from the peer (already decompressed). */
  onPeerData(piece: Buffer, flags: number, last: boolean): void {
    if (this.done) return;
    if (this.remoteFin) return this.fail('STREAM_CLOSED', 'DATA after FIN');
    this.received += piece.length;
    if (this.received > this.granted) {
      return this.fail('FLOW_CONTROL_ERROR', `peer sent ${this.received - this.granted} bytes beyond its credit`);
    }
    if (piece.length > 0) this.push(piece);
    if (!last) return;
    if (flags & Flag.FIN) {
      this.remoteFin = true;
      this.push(null);
      this.maybeDone();
    }
  }

  /** The peer granted credit up to `offset`. */
  onWindow(offset: number): void {
    if (offset <= this.limit) return;
    this.limit = offset;
    this.host.markReady(this);
  }

  sendable(): boolean {
    if (!this.canSend || this.done || this.localFin) return false;
    if (this.queued > 0) return this.limit > this.sent;
    return this.finCallback !== null;
  }

  pull(writer: FrameWriter, maxFrame: number): number {
    const n = Math.min(maxFrame, creditLeft(this.limit, this.sent), this.queued);
    if (n === 0 && (this.queued > 0 || this.finCallback === null)) return 0;
    const pieces = this.takeBytes(n);
    let flags = 0;
    if (this.queued === 0 && this.finCallback) flags |= Flag.FIN;
    if (this.queued > 0 && this.limit === this.sent) flags |= Flag.BLOCKED;
    const tryCompress = this.shouldCompress(n);
    const paid = writer.writeData(this.id, flags, pieces, n, tryCompress);
    if (tryCompress) this.backoff!.note(paid);
    this.releaseWriter();
    if (flags & Flag.FIN) this.onFinSent();
    return n;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Callback): void {
    this.enqueue(chunk);
    this.afterEnqueue(cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: Callback): void {
    for (const { chunk } of chunks) this.enqueue(chunk);
    this.afterEnqueue(cb);
  }

  override _final(cb: Callback): void {
    if (this.done) return cb();
    this.finCallback = cb;
    this.host.markReady(this);
  }

  override _read(): void {
    this.host.consumedSome(this);
  }

  // Readable calls _read() only once per push(): a consumer that drains a full buffer after a pause
  // would otherwise never grant credit again (deadlock with small windows). Every read() that takes
  // bytes out (flowing mode goes through read() too) may grant.
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.host.consumedSome(this);
    return chunk;
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    if (!this.done) {
      this.endWithReset('CANCEL', err?.message ?? 'stream destroyed');
      this.host.sendReset(this, 'CANCEL', err?.message ?? 'stream destroyed');
    }
    this.releaseAll();
    cb(err);
  }

  private enqueue(chunk: Buffer): void {
    if (this.done || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  private afterEnqueue(cb: Callback): void {
    this.host.markReady(this);
    if (this.queued <= this.host.sendBuffer || this.done) cb();
    else this.heldCallback = cb;
  }

  private takeBytes(n: number): Buffer[] {
    const pieces: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.queue[0]!;
      if (head.length <= need) {
        pieces.push(head);
        this.queue.shift();
        need -= head.length;
      } else {
        pieces.push(head.subarray(0, need));
        this.queue[0] = head.subarray(need);
        need = 0;
      }
    }
    this.queued -= n;
    this.sent += n;
    return pieces;
  }

  /** Compression is tried per frame, less and less often while it does not pay (compress-backoff.ts). */
  private shouldCompress(n: number): boolean {
    if (!this.compress || n < 64) return false;
    this.backoff ??= new CompressBackoff();
    return this.backoff.shouldTry();
  }

  private releaseWriter(): void {
    if (this.heldCallback && this.queued <= this.host.sendBuffer) {
      const cb = this.heldCallback;
      this.heldCallback = null;
      cb();
    }
  }

  private onFinSent(): void {
    this.localFin = true;
    const cb = this.finCallback;
    this.finCallback = null;
    cb?.();
    this.maybeDone();
  }

  private maybeDone(): void {
    if (this.localFin && this.remoteFin && !this.done) {
      this.done = true;
      this.host.forget(this);
    }
  }

  private endWithReset(code: ErrorCodeName, reason: string): void {
    this.resetCode = code;
    this.resetReason = reason;
    this.done = true;
    this.host.forget(this);
  }

  private releaseAll(): void {
    this.queue = [];
    this.queued = 0;
    const held = this.heldCallback;
    const fin = this.finCallback;
    this.heldCallback = null;
    this.finCallback = null;
    held?.();
    fin?.();
  }
}
