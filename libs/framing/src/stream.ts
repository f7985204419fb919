// One multiplexed stream: a Node Duplex with real half-close (end() sends FIN, a peer FIN ends the
// readable side), RESET with a code and reason, and per-stream flow control. Credit is granted only
// for bytes the local consumer took out of the readable buffer (see `consumed`). For a raw relay to
// a local socket, `SocketStream` does the same without a Duplex.
import { Duplex } from 'node:stream';
import { Flag } from './constants.js';
import type { CompressBackoff } from './compress-backoff.js';
import { StreamResetError, type ErrorCodeName } from './errors.js';
import type { OpenMeta } from './payloads.js';
import {
  NO_BYTES,
  acceptOpen,
  doneIfBothFins,
  dropQueue,
  enqueue,
  grantCredit,
  hasSendable,
  peerDataFault,
  pullFrame,
  resetByPeer,
  resetHere,
  type StreamHost,
  type WireStream,
} from './wire-stream.js';
import type { FrameWriter } from './writer.js';

export type { StreamHost } from './wire-stream.js';

type Callback = (err?: Error | null) => void;

export class Stream extends Duplex implements WireStream {
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
  /** @internal */
  queue: Buffer[] = NO_BYTES;
  /** @internal */
  queued = 0;
  /** @internal */
  backoff: CompressBackoff | undefined;
  private heldCallback: Callback | null = null;
  private finCallback: Callback | null = null;
  // receive side
  received = 0;
  window: number;
  granted: number;
  /** start of the current window-growth epoch (performance.now()) and what was consumed by then */
  epochAt = performance.now();
  epochConsumed = 0;
  openTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: StreamHost,
    id: number,
    meta: OpenMeta,
    local: boolean,
    window: number,
  ) {
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
    acceptOpen(this, this.host);
  }

  /** Refuses a peer-opened stream with a wire code and a reason for the opener. */
  refuse(code: ErrorCodeName, reason: string): void {
    this.reset(code, reason);
  }

  /** Ends the stream both ways with RESET; the peer's stream errors with this code and reason. */
  reset(code: ErrorCodeName = 'CANCEL', reason = ''): void {
    if (resetHere(this, this.host, code, reason)) this.destroy();
  }

  /** A protocol fault on this stream: RESET to the peer and an error locally. */
  fail(code: ErrorCodeName, reason: string): void {
    if (resetHere(this, this.host, code, reason)) this.destroy(new StreamResetError(code, reason, false));
  }

  /** The peer reset the stream. */
  onPeerReset(code: number, reason: string): void {
    if (!this.done) this.destroy(resetByPeer(this, this.host, code, reason));
  }

  /** Payload bytes from the peer (already decompressed). */
  onPeerData(piece: Buffer, flags: number, last: boolean): void {
    if (this.done) return;
    const fault = peerDataFault(this, piece.length);
    if (fault) return this.fail(...fault);
    if (piece.length > 0) this.push(piece);
    if (!last) return;
    if (flags & Flag.FIN) {
      this.remoteFin = true;
      this.push(null);
      doneIfBothFins(this, this.host);
    }
  }

  /** The peer granted credit up to `offset`. */
  onWindow(offset: number): void {
    grantCredit(this, this.host, offset);
  }

  /** The sink saw OPEN_OK: 'opened'. */
  onOpenOk(): void {
    this.emit('opened');
  }

  sendable(): boolean {
    if (!this.canSend || this.done || this.localFin) return false;
    return hasSendable(this, this.finCallback !== null);
  }

  pull(writer: FrameWriter, maxFrame: number): number {
    const fin = this.finCallback !== null;
    const n = pullFrame(this, writer, maxFrame, fin);
    const finSent = fin && this.queued === 0;
    this.releaseWriter();
    if (finSent) this.onFinSent();
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
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Readable.read's own signature
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.host.consumedSome(this);
    return chunk;
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    resetHere(this, this.host, 'CANCEL', err?.message ?? 'stream destroyed');
    this.releaseAll();
    cb(err);
  }

  private enqueue(chunk: Buffer): void {
    if (this.done || chunk.length === 0) return;
    enqueue(this, chunk);
  }

  private afterEnqueue(cb: Callback): void {
    this.host.markReady(this);
    if (this.queued <= this.host.sendBuffer || this.done) cb();
    else this.heldCallback = cb;
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
    doneIfBothFins(this, this.host);
  }

  private releaseAll(): void {
    dropQueue(this);
    const held = this.heldCallback;
    const fin = this.finCallback;
    this.heldCallback = null;
    this.finCallback = null;
    held?.();
    fin?.();
  }
}
