// The session's outgoing side: control frames jump the data queue, streams with data and credit
// are served round-robin one frame at a time, and what is queued goes out in corked batches at the
// pace of `paceForTurn` (bulk at the turn's end; a small first piece of a turn, such as a PING or a
// keystroke, once its callback returns). The socket's backpressure is honoured: once it holds
// `socketBuffer` bytes and has asked for 'drain', data waits for 'drain' (control frames still go out).
// Control frames are bounded too: once the socket holds more than MAX_CONTROL_BACKLOG bytes beyond
// what data may fill (`socketBuffer` + one frame), the peer is not reading the replies its PINGs,
// SETTINGS, DATA (WINDOW) and OPENs (RESET) cause, and `onControlBacklog` fails the session.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FrameType, Flag, HEADER_SIZE } from './constants.js';
import { paceForTurn } from './cork.js';
import { writeHeader } from './frame.js';
import { compressPayload } from './lz4.js';

/** What the writer needs from a stream. */
export interface Sendable {
  readonly id: number;
  /** set by the writer while the stream sits in its ready ring */
  inReady: boolean;
  /** bytes waiting to be sent (a small amount leads the turn: `paceForTurn`) */
  readonly queued: number;
  /** the stream has data it may send now (or a FIN) */
  sendable(): boolean;
  /** hands at most one frame to the writer; returns the payload bytes it accounted */
  pull(writer: FrameWriter, maxFrame: number): number;
}

const SLAB_SIZE = 16 * 1024;
// DATA headers are carved from one slab shared by every writer of the process, so an idle session
// holds none. A slab is never rewritten: a full one is replaced, and lives on only while a header
// carved from it still waits in some socket's buffer.
let slab = Buffer.allocUnsafeSlow(0);
let slabOffset = SLAB_SIZE;

/** A 12-byte header carved from the shared slab (no allocation per frame). */
function carveHeader(type: number, flags: number, streamId: number, length: number): Buffer {
  if (slabOffset + HEADER_SIZE > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabOffset = 0;
  }
  const start = slabOffset;
  writeHeader(slab, start, type, flags, streamId, length);
  slabOffset += HEADER_SIZE;
  return slab.subarray(start, start + HEADER_SIZE);
}
/** Bytes of control frames the socket may hold unwritten beyond the data allowance (a peer that never reads). */
export const MAX_CONTROL_BACKLOG = 256 * 1024;

/** payload bytes one flush may write before yielding to the event loop */
const FLUSH_BUDGET = 1024 * 1024;

function flushWriter(writer: FrameWriter): void {
  writer.flushNow();
}

export class FrameWriter {
  private readonly control: Buffer[] = [];
  private ready: Sendable[] = [];
  private readyHead = 0;
  private scheduled = false;
  private flushing = false;
  private waitingDrain = false;
  private closed = false;
  private onDrain: (() => void) | undefined;
  /** largest payload the peer accepts; set when its SETTINGS arrive */
  maxFrame: number;
  framesOut = 0;
  bytesOut = 0;
  /** called (once a flush) with the socket's unwritten bytes when they exceed the control backlog */
  onControlBacklog: ((unwritten: number, limit: number) => void) | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly socketBuffer: number,
    maxFrame: number,
  ) {
    this.maxFrame = maxFrame;
    // the writer batches its own frames (paceForTurn): Nagle could only hold a turn's second write
    // until the peer's delayed ACK (~40 ms; libs/framing/README.md). Sockets that have no Nagle
    // (in-memory pairs) have no setNoDelay.
    (socket as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay?.(true);
  }

  /** Queues an encoded control frame ahead of all data. */
  sendControl(frame: Buffer): void {
    if (this.closed) return;
    this.control.push(frame);
    this.schedule(frame.length);
  }

  /** Puts a stream in the round-robin ring if it has something to send. */
  markReady(stream: Sendable): void {
    if (this.closed || stream.inReady || !stream.sendable()) return;
    stream.inReady = true;
    this.ready.push(stream);
    if (!this.flushing) this.schedule(stream.queued);
  }

  /** Writes one DATA frame whose payload is `pieces` (total `length`), compressed when asked and it pays. */
  writeData(streamId: number, flags: number, pieces: Buffer[], length: number, compress: boolean): boolean {
    if (compress && length > 0) {
      const raw = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length);
      const packed = compressPayload(raw);
      if (packed) {
        this.write(carveHeader(FrameType.DATA, flags | Flag.COMPRESSED, streamId, packed.length));
        this.write(packed);
        this.framesOut += 1;
        return true;
      }
    }
    this.write(carveHeader(FrameType.DATA, flags, streamId, length));
    for (const piece of pieces) this.write(piece);
    this.framesOut += 1;
    return false;
  }

  close(): void {
    this.closed = true;
    this.control.length = 0;
    for (let i = this.readyHead; i < this.ready.length; i++) this.ready[i]!.inReady = false;
    this.ready = [];
    this.readyHead = 0;
    if (this.onDrain) this.socket.off('drain', this.onDrain);
  }

  /** Flushes at the pace of `paceForTurn` for `bytes` of new work (Infinity: at the turn's end). */
  private schedule(bytes: number): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    paceForTurn(this, bytes, flushWriter, this);
  }

  /** Writes everything queued now (the paced flush, and before ending the socket). */
  flushNow(): void {
    this.scheduled = false;
    if (this.closed) return;
    const socket = this.socket;
    socket.cork();
    const controlFrames = this.control.length;
    for (const frame of this.control) this.write(frame);
    this.framesOut += controlFrames;
    this.control.length = 0;
    if (controlFrames > 0 && socket.writableNeedDrain) {
      const limit = this.socketBuffer + this.maxFrame + HEADER_SIZE + MAX_CONTROL_BACKLOG;
      if (socket.writableLength > limit) {
        socket.uncork();
        this.onControlBacklog?.(socket.writableLength, limit);
        return;
      }
    }
    let budget = FLUSH_BUDGET;
    this.flushing = true;
    while (budget > 0 && this.readyHead < this.ready.length && !this.mustWait()) {
      const stream = this.ready[this.readyHead++]!;
      stream.inReady = false;
      budget -= stream.pull(this, this.maxFrame) + HEADER_SIZE;
      this.markReady(stream);
    }
    this.flushing = false;
    this.compactRing();
    socket.uncork();
    if (this.readyHead < this.ready.length) {
      if (this.mustWait()) this.waitDrain();
      else this.schedule(Infinity);
    }
  }

  private mustWait(): boolean {
    return this.waitingDrain || (this.socket.writableNeedDrain && this.socket.writableLength >= this.socketBuffer);
  }

  private waitDrain(): void {
    if (this.waitingDrain) return;
    this.waitingDrain = true;
    // made on the first wait: a session whose socket never pushed back holds no listener for it
    this.onDrain ??= () => {
      this.waitingDrain = false;
      this.schedule(Infinity);
    };
    this.socket.once('drain', this.onDrain);
  }

  private compactRing(): void {
    if (this.readyHead === this.ready.length) {
      this.ready.length = 0;
      this.readyHead = 0;
    } else if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }

  private write(buf: Buffer): void {
    this.bytesOut += buf.length;
    this.socket.write(buf);
  }
}
