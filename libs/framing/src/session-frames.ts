// Incoming frames: the decoder's sink, dispatching through a table keyed by frame type. Session-level
// faults throw ProtocolError (the session answers with GOAWAY); stream-level faults reset that stream
// only. Nothing a peer sends can throw anything else out of here. The sink reads the stream table and
// reaches its session only through `FrameHost`.
import { Flag, FrameType, MAX_CONFIG_PAYLOAD } from './constants.js';
import { FrameDecoder, type DecoderSink } from './decoder.js';
import { ProtocolError, errorCodeName, type ErrorCodeName } from './errors.js';
import { FloodGuard } from './flood.js';
import { decompressPayload } from './lz4.js';
import { decodeConfig, decodeGoAway, decodeOpen, decodeReset, decodeSettings, decodeWindow, type OpenMeta } from './payloads.js';
import { peerSettingsFrom, type PeerSettings } from './peer-settings.js';
import type { RttProbe } from './rtt-probe.js';
import type { StreamTable } from './stream-table.js';
import type { WireStream } from './wire-stream.js';

export interface GoAwayInfo {
  code: ErrorCodeName;
  reason: string;
  lastStreamId: number;
}

/** What the frame sink needs from its session. */
export interface FrameHost {
  /** the peer's SETTINGS, once its first arrived */
  readonly peer: PeerSettings | undefined;
  /** both sides take LZ4 (COMPRESSED DATA is allowed) */
  lz4Agreed(): boolean;
  /** A valid OPEN from the peer: the stream is registered and handed to the application, or refused (false). */
  admit(id: number, meta: OpenMeta): boolean;
  /** the peer sent DATA|BLOCKED on `stream`: maybe grow its window, grant credit */
  peerBlocked(stream: WireStream): void;
  onPeerSettings(peer: PeerSettings, hello: Record<string, unknown> | undefined): void;
  /** the session's PINGs: `answer(payload)` a peer's PING, `pong(seq)` for a PING|ACK */
  readonly rtt: Pick<RttProbe, 'answer' | 'pong'>;
  onPeerGoAway(info: GoAwayInfo): void;
  onPeerConfig(config: Record<string, unknown>): void;
  /** RESET for an id that has no stream object */
  sendRawReset(id: number, code: ErrorCodeName, reason: string): void;
  /** a stream's consumer threw: `stream` is failed, the session goes on */
  consumerThrew(stream: WireStream, err: unknown): void;
}

/** The sink's limits (the session's options). */
export interface FrameSinkLimits {
  maxFrameSize: number;
  maxControlPerSecond: number;
  /** this side takes CONFIG frames */
  config: boolean;
}

type Handler = (sink: FrameSink, flags: number, streamId: number, payload: Buffer) => void;

const handlers: Record<number, Handler> = {
  [FrameType.DATA]: (s, flags, id, payload) => s.compressedData(flags, id, payload),
  [FrameType.WINDOW]: (s, _f, id, payload) => s.stream(id, 'WINDOW')?.onWindow(decodeWindow(payload)),
  [FrameType.OPEN]: (s, _f, id, payload) => s.open(id, payload),
  [FrameType.OPEN_OK]: (s, _f, id) => s.openOk(id),
  [FrameType.RESET]: (s, _f, id, payload) => s.reset(id, payload),
  [FrameType.PING]: (s, flags, _id, payload) => s.ping(flags, payload),
  [FrameType.GOAWAY]: (s, _f, _id, payload) => s.goAway(payload),
  [FrameType.SETTINGS]: (s, flags, _id, payload) => s.settings(flags, payload),
  [FrameType.CONFIG]: (s, _f, _id, payload) => s.config(payload),
};

export class FrameSink implements DecoderSink {
  /** frames received (a DATA frame counts once, however many pieces it arrived in) */
  framesIn = 0;
  private readonly flood: FloodGuard;
  private readonly decoder: FrameDecoder;

  constructor(
    private readonly host: FrameHost,
    private readonly table: StreamTable,
    private readonly limits: FrameSinkLimits,
  ) {
    this.flood = new FloodGuard(limits.maxControlPerSecond);
    this.decoder = new FrameDecoder(this, { maxFrameSize: limits.maxFrameSize, maxConfigPayload: limits.config ? MAX_CONFIG_PAYLOAD : 0 });
  }

  /** Bytes from the peer; throws ProtocolError for a session-level fault. */
  push(chunk: Buffer): void {
    this.decoder.push(chunk);
  }

  /** bytes of a frame the decoder holds until the rest arrives */
  get buffered(): number {
    return this.decoder.buffered;
  }

  onData(streamId: number, flags: number, piece: Buffer, last: boolean): void {
    if (last) this.framesIn += 1;
    const stream = this.stream(streamId, 'DATA');
    if (!stream) return;
    this.deliver(stream, piece, flags, last);
  }

  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    this.framesIn += 1;
    handlers[type]!(this, flags, streamId, payload);
  }

  /** The live stream for a frame, undefined for a stream that has ended; a never-used id is a protocol error. */
  stream(id: number, what: string): WireStream | undefined {
    const stream = this.table.get(id);
    if (stream) return stream;
    if (!this.table.wasUsed(id)) throw new ProtocolError('PROTOCOL_ERROR', `${what} for stream ${id}, which was never opened`);
    return undefined;
  }

  compressedData(flags: number, id: number, payload: Buffer): void {
    if (!this.host.lz4Agreed()) throw new ProtocolError('PROTOCOL_ERROR', 'COMPRESSED DATA but LZ4 was not negotiated');
    const stream = this.stream(id, 'DATA');
    if (!stream) return;
    let raw: Buffer;
    try {
      raw = decompressPayload(payload, this.limits.maxFrameSize);
    } catch (err) {
      return stream.fail('COMPRESSION_ERROR', (err as Error).message);
    }
    this.deliver(stream, raw, flags, true);
  }

  open(id: number, payload: Buffer): void {
    const table = this.table;
    if (!table.isPeerId(id))
      throw new ProtocolError('PROTOCOL_ERROR', `OPEN with stream id ${id}: the peer must use ${table.isPeerId(1) ? 'odd' : 'even'} ids`);
    if (id <= table.lastPeerId) throw new ProtocolError('PROTOCOL_ERROR', `OPEN reuses stream id ${id} (last was ${table.lastPeerId})`);
    if (!this.host.peer) throw new ProtocolError('PROTOCOL_ERROR', 'OPEN before SETTINGS');
    table.lastPeerId = id;
    let meta;
    try {
      meta = decodeOpen(payload);
    } catch (err) {
      this.countControl('malformed OPEN');
      return this.host.sendRawReset(id, 'PROTOCOL_ERROR', (err as Error).message);
    }
    if (!this.host.admit(id, meta)) this.countControl('refused OPEN');
  }

  openOk(id: number): void {
    const stream = this.stream(id, 'OPEN_OK');
    if (!stream) return;
    if (!stream.local) throw new ProtocolError('PROTOCOL_ERROR', `OPEN_OK for stream ${id}, which the peer opened`);
    if (stream.opened) return;
    stream.opened = true;
    this.table.answered(stream);
    stream.onOpenOk();
  }

  reset(id: number, payload: Buffer): void {
    const { code, reason } = decodeReset(payload);
    const stream = this.stream(id, 'RESET');
    // A RESET of a stream we opened answers our own OPEN (a refusal, a failed dial): bounded by the
    // streams we open, so it is not a flood; counting it would let callers of a refused target
    // knock the whole session down with GOAWAY FLOOD.
    if (stream === undefined || !stream.local) this.countControl('RESET');
    stream?.onPeerReset(code, reason);
  }

  ping(flags: number, payload: Buffer): void {
    if (flags & Flag.ACK) return this.host.rtt.pong(payload.readUInt32BE(4));
    this.countControl('PING');
    this.host.rtt.answer(payload);
  }

  goAway(payload: Buffer): void {
    const { lastStreamId, code, reason } = decodeGoAway(payload);
    this.host.onPeerGoAway({ lastStreamId, code: errorCodeName(code), reason });
  }

  settings(flags: number, payload: Buffer): void {
    this.countControl('SETTINGS');
    if (flags & Flag.ACK) return;
    const { values, hello } = decodeSettings(payload);
    const previous = this.host.peer;
    const peer = peerSettingsFrom(values, previous);
    if (previous && peer.initialWindow !== previous.initialWindow) {
      throw new ProtocolError('PROTOCOL_ERROR', 'SETTINGS may not change INITIAL_WINDOW after the first');
    }
    if (hello !== undefined && (hello === null || typeof hello !== 'object' || Array.isArray(hello))) {
      throw new ProtocolError('PROTOCOL_ERROR', 'SETTINGS hello must be a JSON object');
    }
    this.host.onPeerSettings(peer, hello as Record<string, unknown> | undefined);
  }

  config(payload: Buffer): void {
    this.countControl('CONFIG');
    if (!this.host.peer) throw new ProtocolError('PROTOCOL_ERROR', 'CONFIG before SETTINGS');
    this.host.onPeerConfig(decodeConfig(payload));
  }

  private deliver(stream: WireStream, piece: Buffer, flags: number, last: boolean): void {
    try {
      stream.onPeerData(piece, flags, last);
      if (last && flags & Flag.BLOCKED && !stream.done) this.host.peerBlocked(stream);
    } catch (err) {
      // A consumer's 'data' listener threw: that stream is broken, the others are not.
      this.host.consumerThrew(stream, err);
    }
  }

  private countControl(what: string): void {
    if (this.flood.hit(Date.now())) {
      throw new ProtocolError('FLOOD', `more than ${this.limits.maxControlPerSecond} control frames per second (last: ${what})`);
    }
  }
}
