// A stream wired straight to a local socket: what the socket reads goes to the peer as DATA, what
// the peer sends is written to the socket, each FIN crosses on its own, and a RESET either way
// destroys the socket. For raw relays (the agent's target connections, the server's CONNECT callers)
// it is one object per stream where a `Stream` (a Duplex) and two splices were seven, ~1 KiB less
// heap per idle stream (perf/README.md, "Heap per idle stream").
// Backpressure both ways: credit is granted for bytes the socket took (all of them while it does not
// ask for 'drain'; what it buffers beyond its mark only once it drains), and the socket is paused
// while more than `sendBuffer` bytes wait for the peer's credit.
import type { Duplex } from 'node:stream';
import { Flag } from './constants.js';
import { corkForTurn } from './cork.js';
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

/** Who runs a SocketStream: told when it opens and when it is over. Set `stream.owner` before `attach()`. */
export interface SocketStreamOwner {
  /** OPEN_OK arrived (a stream this side opened): attach the socket now to relay. */
  opened?(stream: SocketStream): void;
  /**
   * The stream is over: both FINs crossed, a RESET either way (`stream.resetCode`), or the session
   * ended (`err`). Called once; a RESET has destroyed the socket by then.
   */
  closed(stream: SocketStream, err: Error | undefined): void;
  /**
   * The socket failed (`err`) or closed before the stream was over (no `err`). The default resets
   * the stream with CANCEL; an owner that resets it itself can give a better code and reason.
   */
  socketLost?(stream: SocketStream, err: NodeJS.ErrnoException | undefined): void;
}

const NO_OWNER: SocketStreamOwner = { closed() {} };

// Listeners shared by every SocketStream: each finds its stream on the socket (a property instead of
// a bound function per listener).
const kStream = Symbol('socket stream');
type Bound = Duplex & { [kStream]?: SocketStream };

function onSocketData(this: Bound, chunk: Buffer): void {
  this[kStream]?.send(chunk);
}
function onSocketEnd(this: Bound): void {
  this[kStream]?.socketEnded();
}
function onSocketDrain(this: Bound): void {
  const s = this[kStream];
  if (s) s.host.consumedSome(s);
}
function onSocketError(this: Bound, err: NodeJS.ErrnoException): void {
  this[kStream]?.socketLost(err);
}
function onSocketClose(this: Bound): void {
  this[kStream]?.socketLost(undefined);
}

export class SocketStream implements WireStream {
  readonly id: number;
  readonly meta: OpenMeta;
  /** this side opened the stream */
  readonly local: boolean;
  owner: SocketStreamOwner = NO_OWNER;
  /** the local end, once attached */
  socket: Duplex | undefined;
  /** the wire code of the RESET that ended the stream, if one did */
  resetCode: ErrorCodeName | undefined;
  resetReason: string | undefined;
  inReady = false;
  opened = false;
  canSend = false;
  compress = false;
  localFin = false;
  remoteFin = false;
  done = false;
  /** the socket ended: a FIN follows the queued bytes */
  private finPending = false;
  // send side
  sent = 0;
  limit = 0;
  /** @internal */
  queue: Buffer[] = NO_BYTES;
  /** @internal */
  queued = 0;
  /** @internal */
  backoff: CompressBackoff | undefined;
  /** we paused the socket: `sendBuffer` bytes wait for credit */
  private paused = false;
  // receive side
  received = 0;
  window: number;
  granted: number;
  epochAt = performance.now();
  epochConsumed = 0;
  openTimer: NodeJS.Timeout | undefined;
  /** bytes from the peer before attach() */
  private early: Buffer[] | undefined;

  constructor(
    readonly host: StreamHost,
    id: number,
    meta: OpenMeta,
    local: boolean,
    window: number,
  ) {
    this.id = id;
    this.meta = meta;
    this.local = local;
    this.window = window;
    this.granted = window;
  }

  /** Bytes the socket took: all that were written to it, less what it holds beyond its mark. */
  get consumed(): number {
    const s = this.socket;
    const early = this.early === undefined ? 0 : this.early.reduce((n, piece) => n + piece.length, 0);
    return this.received - early - (s !== undefined && s.writableNeedDrain ? s.writableLength : 0);
  }

  get readableLength(): number {
    return this.received - this.consumed;
  }

  /**
   * Relays with `socket` from now on: bytes the peer sent before are written first, a FIN that came
   * is passed on. Reading starts at once (a socket paused by the caller is resumed).
   */
  attach(socket: Duplex): void {
    if (this.socket !== undefined) throw new Error(`stream ${this.id}: a socket is already attached`);
    this.socket = socket;
    if (this.done) {
      if (this.resetCode !== undefined) socket.destroy();
      return;
    }
    (socket as Bound)[kStream] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    const early = this.early;
    this.early = undefined;
    if (early !== undefined) for (const piece of early) this.deliver(piece);
    if (this.remoteFin) socket.end();
    this.host.consumedSome(this);
    socket.resume();
  }

  /** Queues bytes for the peer: the socket's reads, or a caller's first bytes before attach(). */
  send(chunk: Buffer): void {
    if (this.done || this.finPending || chunk.length === 0) return;
    enqueue(this, chunk);
    this.host.markReady(this);
    if (this.queued > this.host.sendBuffer && !this.paused && this.socket !== undefined) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** Accepts a peer-opened stream: sends OPEN_OK. */
  accept(): void {
    acceptOpen(this, this.host);
  }

  /** Refuses a peer-opened stream with a wire code and a reason for the opener. */
  refuse(code: ErrorCodeName, reason: string): void {
    this.reset(code, reason);
  }

  /** Ends the stream both ways with RESET (the socket is destroyed). */
  reset(code: ErrorCodeName = 'CANCEL', reason = ''): void {
    if (resetHere(this, this.host, code, reason)) this.finish(undefined, true);
  }

  /** A protocol fault on this stream: RESET to the peer, the owner is told with the error. */
  fail(code: ErrorCodeName, reason: string): void {
    if (resetHere(this, this.host, code, reason)) this.finish(new StreamResetError(code, reason, false), true);
  }

  /** The session ended (or the owner gives up): RESET CANCEL if still open, socket destroyed. */
  destroy(err?: Error): void {
    this.finish(err, resetHere(this, this.host, 'CANCEL', err?.message ?? 'stream destroyed'));
  }

  onPeerReset(code: number, reason: string): void {
    if (!this.done) this.finish(resetByPeer(this, this.host, code, reason), true);
  }

  onPeerData(piece: Buffer, flags: number, last: boolean): void {
    if (this.done) return;
    const fault = peerDataFault(this, piece.length);
    if (fault) return this.fail(...fault);
    if (piece.length > 0) this.deliver(piece);
    if (!last || !(flags & Flag.FIN)) return;
    this.remoteFin = true;
    this.socket?.end();
    if (doneIfBothFins(this, this.host)) this.finish(undefined, false);
  }

  onWindow(offset: number): void {
    grantCredit(this, this.host, offset);
  }

  onOpenOk(): void {
    this.owner.opened?.(this);
  }

  sendable(): boolean {
    if (!this.canSend || this.done || this.localFin) return false;
    return hasSendable(this, this.finPending);
  }

  pull(writer: FrameWriter, maxFrame: number): number {
    const fin = this.finPending;
    const n = pullFrame(this, writer, maxFrame, fin);
    if (this.paused && this.queued <= this.host.sendBuffer) {
      this.paused = false;
      this.socket!.resume();
    }
    if (fin && this.queued === 0) {
      this.localFin = true;
      if (doneIfBothFins(this, this.host)) this.finish(undefined, false);
    }
    return n;
  }

  /** @internal the socket ended: FIN after what is queued */
  socketEnded(): void {
    if (this.done || this.finPending) return;
    this.finPending = true;
    this.host.markReady(this);
  }

  /** @internal */
  socketLost(err: NodeJS.ErrnoException | undefined): void {
    if (this.done) return;
    // closed after both its ends ended: not lost (the FIN frame and what is queued still go out)
    if (err === undefined && this.finPending && this.remoteFin) return;
    if (this.owner.socketLost) this.owner.socketLost(this, err);
    else this.reset('CANCEL', err ? `local connection: ${err.message}` : 'the local connection closed');
  }

  /** Writes a piece to the socket (corked for the turn: one writev for the frames of one read), or keeps it until attach(). */
  private deliver(piece: Buffer): void {
    const socket = this.socket;
    if (socket === undefined) {
      (this.early ??= []).push(piece); // at most a window: the peer has no credit beyond it
      return;
    }
    if (!socket.writable) return; // an ended or destroyed socket: its 'close' ends the stream
    corkForTurn(socket, piece.length);
    socket.write(piece);
    this.host.consumedSome(this);
  }

  /** Tells the owner once and lets go of what the stream still holds; `reset`: a RESET ended it (the socket is destroyed). */
  private finish(err: Error | undefined, reset: boolean): void {
    if (reset) this.socket?.destroy();
    const owner = this.owner;
    this.owner = NO_OWNER;
    dropQueue(this);
    this.early = undefined;
    owner.closed(this, err);
  }
}
