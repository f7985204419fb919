// A Session multiplexes Streams over one Duplex (a TLS socket in production). It owns the decoder,
// the writer, receive budgets, keepalive and the lifecycle (GOAWAY, close, destroy). Incoming frames
// are handled in `session-frames.ts` (through `FrameHost`), the streams by id in `stream-table.ts`,
// RTT probing in `rtt-probe.ts`, the SETTINGS values in `peer-settings.ts`.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { CODEC_LZ4, Flag, FrameType } from './constants.js';
import { ErrorCode, FramingError, FramingErrorCode, ProtocolError, SessionClosedError, type ErrorCodeName } from './errors.js';
import { encodeFrame } from './frame.js';
import { resolveOptions, type Logger, type ResolvedOptions, type SessionOptions } from './options.js';
import { encodeGoAway, encodeOpen, encodeReset, encodeSettings, encodeWindow, type OpenMeta } from './payloads.js';
import { configFor, localSettings, type PeerSettings } from './peer-settings.js';
import { RttProbe, type DeadPeerOwner } from './rtt-probe.js';
import { FrameSink, type FrameHost, type GoAwayInfo } from './session-frames.js';
import { attachSession, type SocketOwner } from './session-socket.js';
import { SocketStream, type SocketStreamOwner } from './socket-stream.js';
import { Stream } from './stream.js';
import { StreamTable, type Refusal } from './stream-table.js';
import type { StreamHost, WireStream } from './wire-stream.js';
import { FrameWriter } from './writer.js';
import type { SessionStats } from './session-stats.js';

export type { PeerSettings } from './peer-settings.js';
export type { GoAwayInfo } from './session-frames.js';

export declare interface Session {
  /** a stream the peer opened (sessions without `socketStreams`) */
  on(event: 'stream', listener: (stream: Stream) => void): this;
  /** a stream the peer opened, to be attach()ed to a local socket (sessions with `socketStreams`) */
  on(event: 'socketStream', listener: (stream: SocketStream) => void): this;
  on(event: 'goaway', listener: (info: GoAwayInfo) => void): this;
  /** a CONFIG frame from the peer (sessions with `config: true`) */
  on(event: 'config', listener: (config: Record<string, unknown>) => void): this;
  on(event: 'close', listener: (err?: Error) => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): this;
}

const DRAINING: Refusal = { code: 'GOING_AWAY', reason: 'session is draining: open the stream on a new session' };
const NO_ACCEPTOR: Refusal = { code: 'REFUSED', reason: 'this side accepts no streams' };

export class Session extends EventEmitter implements StreamHost, FrameHost, DeadPeerOwner, SocketOwner {
  readonly role: 'client' | 'server';
  /** resolves with the peer's hello once its first SETTINGS arrived; rejects if the session ends first */
  readonly ready: Promise<Record<string, unknown>>;
  peerHello: Record<string, unknown> | undefined;
  peer: PeerSettings | undefined;
  /** PINGs in flight and the round trips they measured (rtt-probe.ts, round-trips.ts) */
  readonly rtt: RttProbe;
  readonly opts: ResolvedOptions;
  readonly log: Logger | undefined;
  /** the open streams by id (see `table` for ids and budgets) */
  readonly streams: Map<number, WireStream>;
  readonly writer: FrameWriter;
  readonly createdAt = Date.now();
  /** we sent GOAWAY: no new streams either way */
  goingAway = false;
  /** the peer sent GOAWAY */
  peerGoingAway = false;
  destroyed = false;
  bytesIn = 0;
  private readonly table: StreamTable;
  private accepted = 0;
  private readonly sink: FrameSink;
  private settle: { resolve: (h: Record<string, unknown>) => void; reject: (e: Error) => void } | undefined;

  constructor(
    readonly socket: Duplex,
    options: SessionOptions,
  ) {
    super();
    this.opts = resolveOptions(options);
    this.role = this.opts.role;
    this.log = this.opts.logger;
    this.table = new StreamTable(this.role, this.opts);
    this.streams = this.table.streams;
    this.writer = new FrameWriter(socket, this.opts.socketBuffer, this.opts.maxFrameSize);
    this.writer.onControlBacklog = (unwritten, limit) => this.peerNotReading(unwritten, limit);
    this.rtt = new RttProbe(this.writer, this.opts.keepaliveIntervalMs, this.opts.keepaliveTimeoutMs, this);
    this.sink = new FrameSink(this, this.table, this.opts);
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => {});
    attachSession(socket, this);
    this.writer.sendControl(encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettings(localSettings(this.opts), this.opts.hello)));
    this.rtt.startKeepalive();
  }

  get sendBuffer(): number {
    return this.opts.sendBuffer;
  }

  /** Opens a stream to the peer. Throws ERR_FRAMING_SESSION_NOT_OPEN once the session is going away. */
  open(meta: OpenMeta): Stream {
    return this.register(new Stream(this, this.localId(), meta, true, this.table.startWindow(this.minRttMs)));
  }

  /** Opens a stream for a raw relay: `owner.opened()` on OPEN_OK, then `attach()` the socket. Throws as open(). */
  openSocket(meta: OpenMeta, owner: SocketStreamOwner): SocketStream {
    const stream = this.register(new SocketStream(this, this.localId(), meta, true, this.table.startWindow(this.minRttMs)));
    stream.owner = owner;
    return stream;
  }

  /** The event a peer-opened stream is emitted with: 'socketStream' when `socketStreams` is set. */
  get streamEvent(): 'stream' | 'socketStream' {
    return this.opts.socketStreams ? 'socketStream' : 'stream';
  }

  /** The id of a stream this side opens now; throws when it may not. */
  private localId(): number {
    if (this.destroyed || this.goingAway || this.peerGoingAway) {
      throw new FramingError(FramingErrorCode.SESSION_NOT_OPEN, 'session is closing: no new streams');
    }
    const problem = this.table.openProblem(this.peer);
    if (problem) throw problem;
    return this.table.nextId;
  }

  private register<S extends WireStream>(stream: S): S {
    const payload = encodeOpen(stream.meta);
    this.table.addLocal(stream, this.peer === undefined);
    if (this.peer) this.sendOpen(stream, payload);
    return stream;
  }

  /** The last PING round trip, in ms. */
  get rttMs(): number | undefined {
    return this.rtt.lastMs;
  }

  /** The smallest PING round trip seen: the path's own delay, without the queues behind it. */
  get minRttMs(): number | undefined {
    return this.rtt.minMs;
  }

  /** Sends one PING; resolves with the round-trip time in ms. */
  ping(): Promise<number> {
    if (this.destroyed) return Promise.reject(new SessionClosedError('NO_ERROR', 'session closed'));
    return this.rtt.ping();
  }

  /** The peer announced SETTINGS CONFIG: it takes CONFIG frames (false until its SETTINGS arrived). */
  get peerTakesConfig(): boolean {
    return (this.peer?.configMax ?? 0) > 0;
  }

  /**
   * Sends one CONFIG frame (an opaque JSON object) when the peer takes them; false (nothing sent) when
   * it does not, or before its SETTINGS. `payload` may be a pre-encoded JSON object (one encoding
   * shared by many sessions). Throws RangeError above the peer's announced size.
   */
  sendConfig(config: Record<string, unknown> | Buffer): boolean {
    const payload = this.destroyed ? undefined : configFor(this.peer, config);
    if (payload !== undefined) this.writer.sendControl(encodeFrame(FrameType.CONFIG, 0, 0, payload));
    return payload !== undefined;
  }

  /** Stops new streams both ways; open ones continue. */
  goAway(code: ErrorCodeName = 'NO_ERROR', reason = ''): void {
    if (this.goingAway || this.destroyed) return;
    this.goingAway = true;
    this.sendGoAway(code, reason);
  }

  /** GOAWAY, then waits for open streams to finish up to `deadlineMs`, resets the rest, ends the socket. */
  async close(deadlineMs = 5_000): Promise<void> {
    if (this.destroyed) return;
    this.goAway('NO_ERROR', 'closing');
    if (this.table.size > 0) await this.table.whenEmpty(deadlineMs);
    for (const stream of this.table.all()) stream.fail('GOING_AWAY', `drain deadline of ${deadlineMs} ms passed`);
    this.endGracefully();
  }

  /** Tears the session down now; every open stream errors. */
  destroy(err?: Error): void {
    this.teardown(err, true);
  }

  stats(): SessionStats {
    return {
      streams: this.table.size,
      opened: this.table.opened,
      accepted: this.accepted,
      bytesIn: this.bytesIn,
      bytesOut: this.writer.bytesOut,
      framesIn: this.sink.framesIn,
      framesOut: this.writer.framesOut,
      rttMs: this.rttMs,
      ageMs: Date.now() - this.createdAt,
    };
  }

  // ---- StreamHost (the streams; not for applications) ----

  markReady(stream: WireStream): void {
    this.writer.markReady(stream);
  }

  consumedSome(stream: WireStream): void {
    if (stream.remoteFin || stream.done || this.destroyed) return;
    const offset = this.table.grantDue(stream);
    if (offset !== 0) this.writer.sendControl(encodeFrame(FrameType.WINDOW, 0, stream.id, encodeWindow(offset)));
  }

  sendOpenOk(stream: WireStream): void {
    this.accepted += 1;
    // a start window above INITIAL_WINDOW: its WINDOW right before the OPEN_OK, in the same write (sent
    // at OPEN it took a record and a write of its own per stream, while the opener waits for OPEN_OK anyway)
    this.consumedSome(stream);
    this.writer.sendControl(encodeFrame(FrameType.OPEN_OK, 0, stream.id));
  }

  sendReset(stream: WireStream, code: ErrorCodeName, reason: string): void {
    if (this.destroyed) return;
    if (stream.local && !stream.canSend) return; // OPEN never went out: nothing to reset on the wire
    this.sendRawReset(stream.id, code, reason);
  }

  forget(stream: WireStream): void {
    this.table.remove(stream);
  }

  // ---- FrameHost (session-frames.ts; not for applications) ----

  /** A RESET for a stream id, whether or not a Stream object exists for it. */
  sendRawReset(id: number, code: ErrorCodeName, reason: string): void {
    this.writer.sendControl(encodeFrame(FrameType.RESET, 0, id, encodeReset(ErrorCode[code], reason)));
  }

  admit(id: number, meta: OpenMeta): boolean {
    const refusal = this.goingAway ? DRAINING : (this.table.refusal() ?? (this.listenerCount(this.streamEvent) === 0 ? NO_ACCEPTOR : undefined));
    if (refusal) {
      this.sendRawReset(id, refusal.code, refusal.reason);
      return false;
    }
    const stream = new (this.opts.socketStreams ? SocketStream : Stream)(this, id, meta, false, this.table.startWindow(this.minRttMs));
    this.armSend(stream);
    this.table.addPeer(stream); // a start window above INITIAL_WINDOW: its WINDOW goes with the OPEN_OK (sendOpenOk)
    try {
      this.emit(this.streamEvent, stream);
    } catch (err) {
      this.log?.error({ err, streamId: id }, 'stream listener threw');
      stream.fail('INTERNAL_ERROR', 'the acceptor failed');
    }
    return true;
  }

  /** The peer reported it ran out of credit: grow the window if our consumer keeps up. */
  peerBlocked(stream: WireStream): void {
    const now = performance.now();
    // growth judges against the smallest round trip seen: refresh it while streams are blocked
    this.rtt.probeWhileBlocked(now);
    this.table.growIfLimited(stream, now, this.minRttMs);
    this.consumedSome(stream);
  }

  onPeerSettings(peer: PeerSettings, hello: Record<string, unknown> | undefined): void {
    const first = this.peer === undefined;
    this.peer = peer;
    this.writer.maxFrame = Math.min(peer.maxFrameSize, this.opts.maxFrameSize);
    this.writer.sendControl(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
    if (!first) return;
    this.peerHello = hello ?? {};
    // an early round-trip sample: window growth judges against it (the keepalive pings come later)
    this.rtt.probe();
    this.settle?.resolve(this.peerHello);
    this.settle = undefined;
    for (const stream of this.table.takeUnsent()) {
      if (!stream.done) this.sendOpen(stream, encodeOpen(stream.meta));
    }
  }

  onPeerGoAway(info: GoAwayInfo): void {
    this.peerGoingAway = true;
    for (const stream of this.table.all()) {
      if (stream.local && !stream.opened && stream.id > info.lastStreamId) {
        stream.fail('GOING_AWAY', `peer is going away (${info.code}) and did not take this stream`);
      }
    }
    this.emit('goaway', info);
  }

  onPeerConfig(config: Record<string, unknown>): void {
    try {
      this.emit('config', config);
    } catch (err) {
      this.log?.error({ err }, 'config listener threw');
    }
  }

  consumerThrew(stream: WireStream, err: unknown): void {
    this.log?.error({ err, streamId: stream.id }, 'stream consumer threw');
    stream.fail('INTERNAL_ERROR', 'the consumer failed');
  }

  lz4Agreed(): boolean {
    return this.opts.compression && this.peer !== undefined && (this.peer.codecs & CODEC_LZ4) !== 0;
  }

  /** The peer broke the protocol: GOAWAY with the code, then tear down. */
  private failSession(err: ProtocolError): void {
    if (this.destroyed) return;
    this.log?.warn({ code: err.wireCode, reason: err.message }, 'peer protocol error');
    this.goAwayNow(err.wireCode, err.message);
    this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), 1_000).unref();
    this.teardown(new SessionClosedError(err.wireCode, err.message, { cause: err }), false);
  }

  /** The socket holds more unwritten control replies than allowed: the peer sends but does not read. */
  private peerNotReading(unwritten: number, limit: number): void {
    if (this.destroyed) return;
    const reason = `the peer does not read: ${unwritten} bytes unwritten after control replies (limit ${limit})`;
    this.log?.warn({ code: 'FLOOD', reason }, 'peer does not read its control replies');
    // no GOAWAY: it would only queue behind what the peer does not read
    this.teardown(new SessionClosedError('FLOOD', reason), true);
  }

  // ---- internals ----

  /** The send side follows the peer's SETTINGS: its initial window, and LZ4 when both take it. */
  private armSend(stream: WireStream): void {
    stream.limit = this.peer!.initialWindow;
    stream.compress = stream.meta.compress === true && this.lz4Agreed();
  }

  private sendOpen(stream: WireStream, payload: Buffer): void {
    this.armSend(stream);
    this.writer.sendControl(encodeFrame(FrameType.OPEN, 0, stream.id, payload));
    this.consumedSome(stream); // a start window above INITIAL_WINDOW: its WINDOW right behind the OPEN
    stream.canSend = true; // 0-RTT: data may follow the OPEN within the initial window
    this.writer.markReady(stream);
  }

  private sendGoAway(code: ErrorCodeName, reason: string): void {
    this.writer.sendControl(encodeFrame(FrameType.GOAWAY, 0, 0, encodeGoAway(this.table.lastPeerId, ErrorCode[code], reason)));
  }

  /** GOAWAY written to the socket now (the session ends right after). */
  private goAwayNow(code: ErrorCodeName, reason: string): void {
    this.sendGoAway(code, reason);
    this.writer.flushNow();
  }

  /** @internal SocketOwner: the socket's bytes */
  socketData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.rtt.touch();
    try {
      this.sink.push(chunk);
    } catch (err) {
      this.failSession(err instanceof ProtocolError ? err : new ProtocolError('INTERNAL_ERROR', String(err), { cause: err }));
    }
  }

  /** @internal SocketOwner: the socket ended or closed: an error for the streams still open, if any */
  socketGone(reason: string): void {
    this.destroy(this.table.size > 0 ? new SessionClosedError('NO_ERROR', reason) : undefined);
  }

  /** @internal DeadPeerOwner: the keepalive's verdict */
  keepaliveDead(idleMs: number): void {
    this.log?.warn({ idleMs }, 'peer silent: keepalive timeout');
    const reason = `no bytes from the peer for ${idleMs} ms`;
    this.goAwayNow('KEEPALIVE_TIMEOUT', reason);
    this.destroy(new SessionClosedError('KEEPALIVE_TIMEOUT', reason));
  }

  private endGracefully(): void {
    if (this.destroyed) return;
    this.writer.flushNow();
    this.socket.end();
    const timer = setTimeout(() => this.destroy(), 2_000);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  private teardown(err: Error | undefined, destroySocket: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.writer.close();
    const cause = err ?? new SessionClosedError('NO_ERROR', 'session closed');
    for (const stream of this.table.all()) stream.destroy(cause);
    for (const stream of this.table.takeUnsent()) stream.destroy(cause);
    this.rtt.stop(cause);
    this.settle?.reject(cause);
    this.settle = undefined;
    if (destroySocket) this.socket.destroy();
    this.emit('close', err);
  }
}
