// A resumable byte link (spec §10): the Duplex a Session runs over when resumption is negotiated.
// It carries the session's bytes over the current socket as DATA records, acknowledges what it
// received with cumulative ACKs, and keeps only the bytes the peer has not confirmed. When the
// socket is lost it pauses: writes are still taken until `maxUnacked` bytes wait for an ack, then
// the session's writes block (its writer waits for 'drain'), so nothing grows without bound. A new
// socket (after the handshake in handshake.ts) resumes it: the unacknowledged tail is replayed from
// the offset the peer says it received, so the session above sees every byte once and in order.
import { Duplex } from 'node:stream';
import { Keepalive, type KeepaliveOwner } from '../keepalive.js';
import { ReplayBuffer } from './replay-buffer.js';
import { LINK_DEFAULTS, type LinkOptions, type LinkStats } from './link-options.js';
import {
  dataHeader,
  encodeOffset,
  encodeRecord,
  LinkProtocolError,
  MAX_DATA_RECORD,
  OFFSET_RECORD,
  putHeader,
  putOffsetRecord,
  readOffset,
  RECORD_HEADER,
  RecordDecoder,
  RecordType,
  type RecordSink,
} from './records.js';

/** A DATA payload up to this size is copied behind its record header (one write, one TLS record); a larger one is written corked. */
const COPY_MAX = 8 * 1024;

export declare interface ResumableLink {
  /** the socket was lost: the link holds its bytes and waits for attach() */
  on(event: 'paused', listener: (reason: string) => void): this;
  /** a new socket took over; `replayed` bytes were sent again */
  on(event: 'resumed', listener: (info: { replayed: number; pausedMs: number }) => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Duplex's own signature
  on(event: string, listener: (...args: any[]) => void): this;
}

export class ResumableLink extends Duplex implements RecordSink, KeepaliveOwner {
  readonly replay = new ReplayBuffer();
  /** session bytes received from the peer (what we acknowledge) */
  rxOffset = 0;
  private socket: Duplex | undefined;
  private readonly maxUnacked: number;
  private readonly ackEvery: number;
  private readonly ackDelayMs: number;
  private readonly keepalive: Keepalive;
  private decoder: RecordDecoder;
  private ackSent = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private heldWrite: ((err?: Error | null) => void) | undefined;
  private socketNeedsDrain = false;
  private finSent = false;
  private finReceived = false;
  private srttMs: number | undefined;
  private sockets = 0;
  private bytesReplayed = 0;
  private bytesIn = 0;
  pausedAt: number | undefined = Date.now();

  constructor(options: LinkOptions = {}) {
    super({ allowHalfOpen: true });
    this.maxUnacked = options.maxUnacked ?? LINK_DEFAULTS.maxUnacked;
    this.ackEvery = options.ackEveryBytes ?? LINK_DEFAULTS.ackEveryBytes;
    this.ackDelayMs = options.ackDelayMs ?? LINK_DEFAULTS.ackDelayMs;
    if (!Number.isInteger(this.maxUnacked) || this.maxUnacked < 1024) throw new RangeError(`maxUnacked must be an integer ≥ 1024, got ${this.maxUnacked}`);
    this.keepalive = new Keepalive(
      options.keepaliveIntervalMs ?? LINK_DEFAULTS.keepaliveIntervalMs,
      options.keepaliveTimeoutMs ?? LINK_DEFAULTS.keepaliveTimeoutMs,
      this,
    );
    this.decoder = new RecordDecoder(this);
  }

  get paused(): boolean {
    return this.socket === undefined;
  }

  /** How long nothing has arrived from the peer (any record, on any socket; a resume's attach counts): the silence a grace measures. */
  get silentMs(): number {
    return Math.max(0, Date.now() - this.keepalive.lastRxAt);
  }

  /** The link's bytes in flight on the wire: the peer confirmed everything before this. */
  get peerAcked(): number {
    return this.replay.start;
  }

  /** Whether a loss of the current socket may still be resumed (no end was sent or received). */
  get resumable(): boolean {
    return !this.destroyed && !this.finSent && !this.finReceived;
  }

  stats(): LinkStats {
    return {
      sockets: this.sockets,
      bytesReplayed: this.bytesReplayed,
      bytesOut: this.replay.end,
      bytesIn: this.bytesIn,
      unacked: this.replay.size,
      paused: this.paused,
      pausedAt: this.pausedAt,
    };
  }

  /**
   * Runs the link over `socket` from now on. `peerReceived`: the session bytes the peer says it has
   * (0 on a new session); everything after it is sent again. `leftover`: link bytes that arrived
   * with the handshake; `preface(rxOffset)`: a handshake record written before any link record (the
   * old socket, if one is still attached, is dropped first, so `rxOffset` is final). Throws
   * RangeError when `peerReceived` is not within what we hold.
   */
  attach(socket: Duplex, peerReceived: number, extra: { leftover?: Buffer; preface?: (rxOffset: number) => Buffer } = {}): void {
    if (this.destroyed) throw new Error('link is closed');
    if (!this.acceptsOffset(peerReceived)) {
      throw new RangeError(`the peer says it received ${peerReceived} bytes; we hold [${this.replay.start}, ${this.replay.end}]`);
    }
    if (this.socket) this.lose('replaced by a resumed connection', false);
    if (extra.preface) socket.write(extra.preface(this.rxOffset));
    this.replay.ackTo(peerReceived);
    this.socket = socket;
    this.sockets += 1;
    this.decoder = new RecordDecoder(this);
    (socket as Partial<{ setNoDelay(v: boolean): void }>).setNoDelay?.(true);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    const replayed = this.replay.size;
    socket.cork();
    for (const chunk of this.replay.from(peerReceived)) this.sendData(chunk);
    if (this.finSent) socket.write(encodeRecord(RecordType.FIN));
    this.sendAck(true);
    socket.uncork();
    const pausedMs = this.sockets > 1 && this.pausedAt !== undefined ? Date.now() - this.pausedAt : 0;
    this.pausedAt = undefined;
    this.keepalive.touch();
    this.keepalive.start();
    if (this.sockets > 1) {
      this.bytesReplayed += replayed;
      this.emit('resumed', { replayed, pausedMs });
    }
    if (extra.leftover && extra.leftover.length > 0) this.onData(extra.leftover);
    socket.resume(); // the handshake paused it: a 'data' listener alone does not restart an explicit pause
    this.release();
  }

  /** Whether a peer that says it received `offset` of our bytes can be resumed (we still hold the rest). */
  acceptsOffset(offset: number): boolean {
    return offset >= this.replay.start && offset <= this.replay.end;
  }

  /** Drops the current socket as lost (a test, or the owner's own verdict): the link pauses. */
  dropSocket(reason: string): void {
    this.lose(reason, true);
  }

  // ---- Duplex ----

  override _read(): void {
    // the session above never pauses its socket: bytes are pushed as they arrive
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.keep(chunk);
    this.hold(cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    if (this.socket) this.socket.cork();
    for (const { chunk } of chunks) this.keep(chunk);
    if (this.socket) this.socket.uncork();
    this.hold(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finSent = true;
    this.socket?.write(encodeRecord(RecordType.FIN));
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.keepalive.stop();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.heldWrite = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      this.unlisten(socket);
      socket.on('error', () => {});
      // tell the peer not to wait for a resume: our session is gone
      if (!this.finSent && socket.writable) socket.write(encodeRecord(RecordType.FIN));
      socket.end();
      setTimeout(() => socket.destroy(), 1_000).unref();
    }
    this.replay.clear();
    cb(err);
  }

  // ---- RecordSink ----

  record(type: number, payload: Buffer): void {
    switch (type) {
      case RecordType.DATA:
        if (payload.length === 0) return;
        this.rxOffset += payload.length;
        this.bytesIn += payload.length;
        this.push(payload);
        return;
      case RecordType.ACK: {
        const offset = readOffset(payload);
        if (offset < this.replay.start || offset > this.replay.end) {
          throw new LinkProtocolError(`ACK ${offset} outside the bytes in flight [${this.replay.start}, ${this.replay.end}]`);
        }
        this.replay.ackTo(offset);
        this.release();
        return;
      }
      case RecordType.PING:
        this.sendControl(RecordType.PONG, payload);
        return;
      case RecordType.PONG: {
        const sample = performance.now() - payload.readDoubleBE(0);
        if (sample >= 0 && sample < 3_600_000) this.srttMs = this.srttMs === undefined ? sample : this.srttMs + (sample - this.srttMs) / 8;
        return;
      }
      case RecordType.FIN:
        if (this.finReceived) return;
        this.finReceived = true;
        this.push(null);
        return;
      default:
        throw new LinkProtocolError(`record 0x${type.toString(16)} after the handshake`);
    }
  }

  // ---- KeepaliveOwner ----

  keepalivePing(): void {
    const p = Buffer.allocUnsafe(8);
    p.writeDoubleBE(performance.now());
    this.sendControl(RecordType.PING, p);
  }

  keepaliveSrttMs(): number | undefined {
    return this.srttMs;
  }

  keepaliveDead(idleMs: number): void {
    this.lose(`no bytes on the connection for ${idleMs} ms`, true);
  }

  // ---- internals ----

  private keep(chunk: Buffer): void {
    this.replay.append(chunk);
    if (this.socket) this.sendData(chunk);
  }

  /** Holds the session's write until the bytes in flight fit the bound and the socket drained. */
  private hold(cb: (err?: Error | null) => void): void {
    this.heldWrite = cb;
    this.release();
  }

  private release(): void {
    if (!this.heldWrite || this.replay.size > this.maxUnacked || this.socketNeedsDrain) return;
    const cb = this.heldWrite;
    this.heldWrite = undefined;
    cb();
  }

  /**
   * One DATA record per write: a small payload is copied behind its header (and behind an ACK that
   * is due: it rides along instead of leaving as a record, a TLS record and a syscall of its own); a
   * large one is written as header + payload, corked, so it still leaves as one TLS write.
   */
  private sendData(chunk: Buffer): void {
    const socket = this.socket!;
    const ack = this.rxOffset > this.ackSent ? OFFSET_RECORD : 0;
    if (chunk.length <= COPY_MAX) {
      const out = Buffer.allocUnsafe(ack + RECORD_HEADER + chunk.length);
      if (ack > 0) this.putAck(out);
      putHeader(out, ack, RecordType.DATA, chunk.length);
      chunk.copy(out, ack + RECORD_HEADER);
      if (!socket.write(out)) this.socketNeedsDrain = true;
      return;
    }
    socket.cork();
    if (ack > 0) this.sendAck();
    for (let at = 0; at < chunk.length; at += MAX_DATA_RECORD) {
      const piece = at === 0 && chunk.length <= MAX_DATA_RECORD ? chunk : chunk.subarray(at, at + MAX_DATA_RECORD);
      socket.write(dataHeader(piece.length));
      if (!socket.write(piece)) this.socketNeedsDrain = true;
    }
    socket.uncork();
  }

  /** A PING or PONG record, with a due ACK in front of it in the same write (the keepalive carries an idle link's ACK). */
  private sendControl(type: typeof RecordType.PING | typeof RecordType.PONG, payload: Buffer): void {
    if (!this.socket) return;
    const record = encodeRecord(type, payload);
    if (this.rxOffset === this.ackSent) return void this.socket.write(record);
    const out = Buffer.allocUnsafe(OFFSET_RECORD + record.length);
    this.putAck(out);
    record.copy(out, OFFSET_RECORD);
    this.socket.write(out);
  }

  /** Writes the ACK of everything received into `out` at 0 (a pending ACK timer then finds nothing new). */
  private putAck(out: Buffer): void {
    this.ackSent = this.rxOffset;
    putOffsetRecord(out, 0, RecordType.ACK, this.rxOffset);
  }

  /** ACK of everything received; `force`: even when nothing new arrived (a new socket's first ACK). */
  private sendAck(force = false): void {
    if (!this.socket || (!force && this.rxOffset === this.ackSent)) return;
    this.ackSent = this.rxOffset;
    this.socket.write(encodeOffset(RecordType.ACK, this.rxOffset));
  }

  private readonly onData = (chunk: Buffer): void => {
    this.keepalive.touch();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (this.destroyed || !this.socket) return;
    if (this.rxOffset - this.ackSent >= this.ackEvery) this.sendAck();
    else if (this.ackDelayMs > 0 && this.rxOffset > this.ackSent && !this.ackTimer) this.ackTimer = setTimeout(this.onAckTimer, this.ackDelayMs);
  };

  private readonly onAckTimer = (): void => {
    this.ackTimer = undefined;
    this.sendAck();
  };

  private readonly onDrain = (): void => {
    this.socketNeedsDrain = false;
    this.release();
  };

  private readonly onEnd = (): void => this.lose('peer closed the connection', true);
  private readonly onClose = (): void => this.lose('connection closed', true);
  private readonly onError = (err: Error): void => this.lose(`connection error: ${err.message}`, true);

  private unlisten(socket: Duplex): void {
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
  }

  /** The current socket is gone: pause (or end, when the session had already ended a direction). */
  private lose(reason: string, announce: boolean): void {
    const socket = this.socket;
    if (!socket) return;
    this.unlisten(socket);
    socket.on('error', () => {});
    socket.destroy();
    this.socket = undefined;
    this.keepalive.stop();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.socketNeedsDrain = false;
    this.pausedAt = Date.now();
    if (!announce) return;
    if (!this.resumable) {
      this.destroy();
      return;
    }
    this.emit('paused', reason);
    this.release();
  }
}
