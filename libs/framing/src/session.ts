// A Session multiplexes Streams over one Duplex (a TLS socket in production). It owns the decoder,
// the writer, stream ids, receive budgets, keepalive and the lifecycle (GOAWAY, close, destroy).
// Frame handling for incoming frames lives in `session-frames.ts`.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { CODEC_LZ4, FrameType, MAX_CONFIG_PAYLOAD, MAX_STREAM_ID, PROTOCOL_VERSION, Setting } from './constants.js';
import { FrameDecoder } from './decoder.js';
import { ErrorCode, FramingError, FramingErrorCode, ProtocolError, SessionClosedError, type ErrorCodeName } from './errors.js';
import { FloodGuard } from './flood.js';
import { grantDue, grownWindow, windowLimited } from './flow.js';
import { encodeFrame } from './frame.js';
import { Keepalive, type KeepaliveOwner } from './keepalive.js';
import { RoundTrips } from './round-trips.js';
import { resolveOptions, type Logger, type ResolvedOptions, type SessionOptions } from './options.js';
import { encodeConfig, encodeGoAway, encodeOpen, encodeReset, encodeSettings, encodeWindow, type OpenMeta } from './payloads.js';
import { FrameSink } from './session-frames.js';
import { SocketStream, type SocketStreamOwner } from './socket-stream.js';
import { Stream } from './stream.js';
import type { StreamHost, WireStream } from './wire-stream.js';
import { FrameWriter } from './writer.js';

/** At most one extra RTT probe (PING) per this many ms, sent while the peer reports BLOCKED streams. */
const RTT_PROBE_MS = 1_000;

/** What the peer announced in its first SETTINGS. */
export interface PeerSettings {
  maxFrameSize: number;
  initialWindow: number;
  maxStreams: number;
  codecs: number;
  keepaliveMs: number;
  version: number;
  /** largest CONFIG payload the peer takes (SETTINGS CONFIG); 0: it takes none */
  configMax: number;
}

export interface SessionStats {
  streams: number;
  opened: number;
  accepted: number;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  rttMs: number | undefined;
  ageMs: number;
}

export interface GoAwayInfo {
  code: ErrorCodeName;
  reason: string;
  lastStreamId: number;
}

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

// The socket listeners are shared by every session: each finds its session on the socket (one
// property per socket instead of four closures per session).
const kSession = Symbol('framing session');
type SessionSocket = Duplex & { [kSession]?: Session };

function onSocketData(this: SessionSocket, chunk: Buffer): void {
  this[kSession]?.socketData(chunk);
}
function onSocketEnd(this: SessionSocket): void {
  this[kSession]?.socketGone('peer closed the connection');
}
function onSocketError(this: SessionSocket, err: Error): void {
  this[kSession]?.destroy(new SessionClosedError('INTERNAL_ERROR', `connection error: ${err.message}`, { cause: err }));
}
function onSocketClose(this: SessionSocket): void {
  this[kSession]?.socketGone('connection closed');
}

export class Session extends EventEmitter implements StreamHost, KeepaliveOwner {
  readonly role: 'client' | 'server';
  /** resolves with the peer's hello once its first SETTINGS arrived; rejects if the session ends first */
  readonly ready: Promise<Record<string, unknown>>;
  peerHello: Record<string, unknown> | undefined;
  peer: PeerSettings | undefined;
  /** PINGs in flight and the round trips they measured (round-trips.ts) */
  readonly rtt = new RoundTrips();
  readonly opts: ResolvedOptions;
  readonly log: Logger | undefined;
  readonly streams = new Map<number, WireStream>();
  readonly writer: FrameWriter;
  readonly flood: FloodGuard;
  readonly createdAt = Date.now();
  /** highest stream id the peer opened (ids must increase) */
  lastPeerId = 0;
  /** we sent GOAWAY: no new streams either way */
  goingAway = false;
  /** the peer sent GOAWAY */
  peerGoingAway = false;
  destroyed = false;
  bytesIn = 0;
  framesIn = 0;
  private nextId: number;
  private committed = 0;
  private peerStreams = 0;
  private opened = 0;
  private accepted = 0;
  private pendingOpens: WireStream[] = [];
  private readonly decoder: FrameDecoder;
  private readonly keepalive: Keepalive;
  private rttProbeAt = 0;
  private settle: { resolve: (h: Record<string, unknown>) => void; reject: (e: Error) => void } | undefined;
  private closeWaiters: Array<() => void> = [];

  constructor(readonly socket: Duplex, options: SessionOptions) {
    super();
    this.opts = resolveOptions(options);
    this.role = this.opts.role;
    this.log = this.opts.logger;
    this.nextId = this.role === 'client' ? 1 : 2;
    this.flood = new FloodGuard(this.opts.maxControlPerSecond);
    this.writer = new FrameWriter(socket, this.opts.socketBuffer, this.opts.maxFrameSize);
    this.writer.onControlBacklog = (unwritten, limit) => this.peerNotReading(unwritten, limit);
    this.decoder = new FrameDecoder(new FrameSink(this), { maxFrameSize: this.opts.maxFrameSize, maxConfigPayload: this.opts.config ? MAX_CONFIG_PAYLOAD : 0 });
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => {});
    this.keepalive = new Keepalive(this.opts.keepaliveIntervalMs, this.opts.keepaliveTimeoutMs, this);
    this.attachSocket();
    this.sendSettings();
    this.keepalive.start();
  }

  get sendBuffer(): number {
    return this.opts.sendBuffer;
  }

  /** Opens a stream to the peer. Throws ERR_FRAMING_SESSION_NOT_OPEN once the session is going away. */
  open(meta: OpenMeta): Stream {
    this.checkCanOpen();
    return this.register(new Stream(this, this.nextId, meta, true, this.opts.initialWindow));
  }

  /** Opens a stream for a raw relay: `owner.opened()` on OPEN_OK, then `attach()` the socket. Throws as open(). */
  openSocket(meta: OpenMeta, owner: SocketStreamOwner): SocketStream {
    this.checkCanOpen();
    const stream = this.register(new SocketStream(this, this.nextId, meta, true, this.opts.initialWindow));
    stream.owner = owner;
    return stream;
  }

  /** The event a peer-opened stream is emitted with: 'socketStream' when `socketStreams` is set. */
  get streamEvent(): 'stream' | 'socketStream' {
    return this.opts.socketStreams ? 'socketStream' : 'stream';
  }

  private checkCanOpen(): void {
    if (this.destroyed || this.goingAway || this.peerGoingAway) {
      throw new FramingError(FramingErrorCode.SESSION_NOT_OPEN, 'session is closing: no new streams');
    }
    if (this.nextId > MAX_STREAM_ID) throw new FramingError(FramingErrorCode.IDS_EXHAUSTED, 'stream ids exhausted');
    // the peer's MAX_STREAMS bounds the streams we open: more would only be refused on the wire
    if (this.peer && this.streams.size - this.peerStreams >= this.peer.maxStreams) {
      throw new FramingError(FramingErrorCode.STREAM_LIMIT, `the peer accepts at most ${this.peer.maxStreams} concurrent streams`);
    }
  }

  private register<S extends WireStream>(stream: S): S {
    const payload = encodeOpen(stream.meta);
    this.nextId += 2;
    this.streams.set(stream.id, stream);
    this.committed += stream.window;
    this.opened += 1;
    stream.openTimer = setTimeout(() => stream.fail('TIMEOUT', `no answer to OPEN within ${this.opts.openTimeoutMs} ms`), this.opts.openTimeoutMs);
    stream.openTimer.unref();
    if (this.peer) this.sendOpen(stream, payload);
    else this.pendingOpens.push(stream);
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
    const { payload, done } = this.rtt.start();
    this.writer.sendControl(encodeFrame(FrameType.PING, 0, 0, payload));
    return done;
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
    if (this.destroyed || !this.peerTakesConfig) return false;
    const max = this.peer!.configMax;
    const payload = Buffer.isBuffer(config) ? config : encodeConfig(config, max);
    if (payload.length > max) throw new RangeError(`CONFIG payload of ${payload.length} bytes exceeds the peer's ${max}`);
    this.writer.sendControl(encodeFrame(FrameType.CONFIG, 0, 0, payload));
    return true;
  }

  /** Stops new streams both ways; open ones continue. */
  goAway(code: ErrorCodeName = 'NO_ERROR', reason = ''): void {
    if (this.goingAway || this.destroyed) return;
    this.goingAway = true;
    this.writer.sendControl(encodeFrame(FrameType.GOAWAY, 0, 0, encodeGoAway(this.lastPeerId, ErrorCode[code], reason)));
  }

  /** GOAWAY, then waits for open streams to finish up to `deadlineMs`, resets the rest, ends the socket. */
  async close(deadlineMs = 5_000): Promise<void> {
    if (this.destroyed) return;
    this.goAway('NO_ERROR', 'closing');
    if (this.streams.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        timer.unref();
        this.closeWaiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
    for (const stream of [...this.streams.values()]) stream.fail('GOING_AWAY', `drain deadline of ${deadlineMs} ms passed`);
    this.endGracefully();
  }

  /** Tears the session down now; every open stream errors. */
  destroy(err?: Error): void {
    this.teardown(err, true);
  }

  stats(): SessionStats {
    return {
      streams: this.streams.size,
      opened: this.opened,
      accepted: this.accepted,
      bytesIn: this.bytesIn,
      bytesOut: this.writer.bytesOut,
      framesIn: this.framesIn,
      framesOut: this.writer.framesOut,
      rttMs: this.rttMs,
      ageMs: Date.now() - this.createdAt,
    };
  }

  // ---- StreamHost ----

  markReady(stream: WireStream): void {
    this.writer.markReady(stream);
  }

  consumedSome(stream: WireStream): void {
    if (stream.remoteFin || stream.done || this.destroyed) return;
    const offset = grantDue(stream.consumed, stream.window, stream.granted);
    if (offset === 0) return;
    stream.granted = offset;
    this.writer.sendControl(encodeFrame(FrameType.WINDOW, 0, stream.id, encodeWindow(offset)));
  }

  sendOpenOk(stream: WireStream): void {
    this.accepted += 1;
    this.writer.sendControl(encodeFrame(FrameType.OPEN_OK, 0, stream.id));
  }

  sendReset(stream: WireStream, code: ErrorCodeName, reason: string): void {
    if (this.destroyed) return;
    if (stream.local && !stream.canSend) return; // OPEN never went out: nothing to reset on the wire
    this.sendRawReset(stream.id, code, reason);
  }

  /** A RESET for a stream id, whether or not a Stream object exists for it. */
  sendRawReset(id: number, code: ErrorCodeName, reason: string): void {
    this.writer.sendControl(encodeFrame(FrameType.RESET, 0, id, encodeReset(ErrorCode[code], reason)));
  }

  forget(stream: WireStream): void {
    if (stream.openTimer) clearTimeout(stream.openTimer);
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    this.committed -= stream.window;
    if (!stream.local) this.peerStreams -= 1;
    const i = this.pendingOpens.indexOf(stream);
    if (i >= 0) this.pendingOpens.splice(i, 1);
    if (this.streams.size === 0 && this.closeWaiters.length > 0) {
      for (const wake of this.closeWaiters.splice(0)) wake();
    }
  }

  // ---- used by FrameSink ----

  /** A stream id that this session or the peer has used before (frames for it may still be in flight). */
  wasUsed(id: number): boolean {
    return this.isPeerId(id) ? id <= this.lastPeerId : id < this.nextId;
  }

  isPeerId(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'server');
  }

  /** Registers a stream the peer opened, or refuses it; returns the stream when it was admitted. */
  admit(id: number, meta: OpenMeta): WireStream | undefined {
    const refusal = this.refusalFor();
    if (refusal) {
      this.sendRawReset(id, refusal.code, refusal.reason);
      return undefined;
    }
    const stream = new (this.opts.socketStreams ? SocketStream : Stream)(this, id, meta, false, this.opts.initialWindow);
    stream.limit = this.peer!.initialWindow;
    stream.compress = meta.compress === true && this.lz4Agreed();
    this.streams.set(id, stream);
    this.committed += stream.window;
    this.peerStreams += 1;
    return stream;
  }

  /** The peer reported it ran out of credit: grow the window if our consumer keeps up. */
  peerBlocked(stream: WireStream): void {
    const now = performance.now();
    // growth judges against the smallest round trip seen: refresh it while streams are blocked
    if (now - this.rttProbeAt >= RTT_PROBE_MS && !this.rtt.inFlight) {
      this.rttProbeAt = now;
      void this.ping().catch(() => {});
    }
    const consumed = stream.consumed;
    const limited = windowLimited(now - stream.epochAt, consumed - stream.epochConsumed, stream.window, this.minRttMs);
    if (limited !== undefined) {
      stream.epochAt = now;
      stream.epochConsumed = consumed;
    }
    if (limited) {
      const before = stream.window;
      stream.window = grownWindow(before, stream.readableLength, this.opts.maxWindow, this.opts.receiveBudget - this.committed);
      this.committed += stream.window - before;
    }
    this.consumedSome(stream);
  }

  onPeerSettings(peer: PeerSettings, hello: Record<string, unknown> | undefined): void {
    const first = this.peer === undefined;
    this.peer = peer;
    this.writer.maxFrame = Math.min(peer.maxFrameSize, this.opts.maxFrameSize);
    this.writer.sendControl(encodeFrame(FrameType.SETTINGS, 1, 0));
    if (!first) return;
    this.peerHello = hello ?? {};
    // an early round-trip sample: window growth judges against it (the keepalive pings come later)
    void this.ping().catch(() => {});
    this.settle?.resolve(this.peerHello);
    this.settle = undefined;
    for (const stream of this.pendingOpens.splice(0)) {
      if (!stream.done) this.sendOpen(stream, encodeOpen(stream.meta));
    }
  }

  onPong(seq: number): void {
    this.rtt.pong(seq);
  }

  onPeerGoAway(info: GoAwayInfo): void {
    this.peerGoingAway = true;
    for (const stream of [...this.streams.values()]) {
      if (stream.local && !stream.opened && stream.id > info.lastStreamId) {
        stream.fail('GOING_AWAY', `peer is going away (${info.code}) and did not take this stream`);
      }
    }
    this.emit('goaway', info);
  }

  /** The peer broke the protocol: GOAWAY with the code, then tear down. */
  failSession(err: ProtocolError): void {
    if (this.destroyed) return;
    this.log?.warn({ code: err.wireCode, reason: err.message }, 'peer protocol error');
    this.writer.sendControl(encodeFrame(FrameType.GOAWAY, 0, 0, encodeGoAway(this.lastPeerId, ErrorCode[err.wireCode], err.message)));
    this.writer.flushNow();
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

  lz4Agreed(): boolean {
    return this.opts.compression && this.peer !== undefined && (this.peer.codecs & CODEC_LZ4) !== 0;
  }

  // ---- internals ----

  private refusalFor(): { code: ErrorCodeName; reason: string } | undefined {
    if (this.goingAway) return { code: 'GOING_AWAY', reason: 'session is draining: open the stream on a new session' };
    if (this.peerStreams >= this.opts.maxStreams) return { code: 'REFUSED', reason: `too many streams (max ${this.opts.maxStreams})` };
    if (this.committed + this.opts.initialWindow > this.opts.receiveBudget) {
      return { code: 'REFUSED', reason: `receive budget of ${this.opts.receiveBudget} bytes exhausted` };
    }
    if (this.listenerCount(this.streamEvent) === 0) return { code: 'REFUSED', reason: 'this side accepts no streams' };
    return undefined;
  }

  private sendOpen(stream: WireStream, payload: Buffer): void {
    stream.limit = this.peer!.initialWindow;
    stream.compress = stream.meta.compress === true && this.lz4Agreed();
    this.writer.sendControl(encodeFrame(FrameType.OPEN, 0, stream.id, payload));
    stream.canSend = true; // 0-RTT: data may follow the OPEN within the initial window
    this.writer.markReady(stream);
  }

  private sendSettings(): void {
    const values = {
      [Setting.MAX_FRAME_SIZE]: this.opts.maxFrameSize,
      [Setting.INITIAL_WINDOW]: this.opts.initialWindow,
      [Setting.MAX_STREAMS]: this.opts.maxStreams,
      [Setting.CODECS]: this.opts.compression ? CODEC_LZ4 : 0,
      [Setting.KEEPALIVE_MS]: this.opts.keepaliveIntervalMs,
      [Setting.VERSION]: PROTOCOL_VERSION,
      // announced only when taken: an older peer never sees the id (it would ignore it anyway)
      ...(this.opts.config ? { [Setting.CONFIG]: MAX_CONFIG_PAYLOAD } : {}),
    };
    this.writer.sendControl(encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettings(values, this.opts.hello)));
  }

  private attachSocket(): void {
    const socket = this.socket as SessionSocket;
    socket[kSession] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /** @internal the socket's bytes */
  socketData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.keepalive.touch();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.failSession(err instanceof ProtocolError ? err : new ProtocolError('INTERNAL_ERROR', String(err), { cause: err }));
    }
  }

  /** @internal the socket ended or closed: an error for the streams still open, if any */
  socketGone(reason: string): void {
    this.destroy(this.streams.size > 0 ? new SessionClosedError('NO_ERROR', reason) : undefined);
  }

  /** @internal KeepaliveOwner */
  keepalivePing(): void {
    void this.ping().catch(() => {});
  }

  /** @internal KeepaliveOwner */
  keepaliveSrttMs(): number | undefined {
    return this.rtt.srttMs;
  }

  /** @internal KeepaliveOwner */
  keepaliveDead(idleMs: number): void {
    this.log?.warn({ idleMs }, 'peer silent: keepalive timeout');
    const err = new ProtocolError('KEEPALIVE_TIMEOUT', `no bytes from the peer for ${idleMs} ms`);
    this.writer.sendControl(encodeFrame(FrameType.GOAWAY, 0, 0, encodeGoAway(this.lastPeerId, ErrorCode.KEEPALIVE_TIMEOUT, err.message)));
    this.writer.flushNow();
    this.destroy(new SessionClosedError('KEEPALIVE_TIMEOUT', err.message));
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
    this.keepalive.stop();
    this.writer.close();
    const cause = err ?? new SessionClosedError('NO_ERROR', 'session closed');
    for (const stream of [...this.streams.values()]) stream.destroy(cause);
    for (const stream of this.pendingOpens.splice(0)) stream.destroy(cause);
    this.rtt.failAll(cause);
    this.settle?.reject(cause);
    this.settle = undefined;
    if (destroySocket) this.socket.destroy();
    this.emit('close', err);
  }
}
