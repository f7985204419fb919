// Incoming frames: the decoder's sink, dispatching through a table keyed by frame type. Session-level
// faults throw ProtocolError (the session answers with GOAWAY); stream-level faults reset that stream
// only. Nothing a peer sends can throw anything else out of here.
import { CODEC_LZ4, Flag, FrameType, Setting } from './constants.js';
import type { DecoderSink } from './decoder.js';
import { ProtocolError, errorCodeName } from './errors.js';
import { decompressPayload } from './lz4.js';
import { decodeConfig, decodeGoAway, decodeOpen, decodeReset, decodeSettings, decodeWindow } from './payloads.js';
import { encodeFrame } from './frame.js';
import type { PeerSettings, Session } from './session.js';
import type { WireStream } from './wire-stream.js';

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
  constructor(private readonly session: Session) {}

  onData(streamId: number, flags: number, piece: Buffer, last: boolean): void {
    if (last) this.session.framesIn += 1;
    const stream = this.stream(streamId, 'DATA');
    if (!stream) return;
    this.deliver(stream, piece, flags, last);
  }

  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    this.session.framesIn += 1;
    handlers[type]!(this, flags, streamId, payload);
  }

  /** The live stream for a frame, undefined for a stream that has ended; a never-used id is a protocol error. */
  stream(id: number, what: string): WireStream | undefined {
    const stream = this.session.streams.get(id);
    if (stream) return stream;
    if (!this.session.wasUsed(id)) throw new ProtocolError('PROTOCOL_ERROR', `${what} for stream ${id}, which was never opened`);
    return undefined;
  }

  compressedData(flags: number, id: number, payload: Buffer): void {
    if (!this.session.lz4Agreed()) throw new ProtocolError('PROTOCOL_ERROR', 'COMPRESSED DATA but LZ4 was not negotiated');
    const stream = this.stream(id, 'DATA');
    if (!stream) return;
    let raw: Buffer;
    try {
      raw = decompressPayload(payload, this.session.opts.maxFrameSize);
    } catch (err) {
      return stream.fail('COMPRESSION_ERROR', (err as Error).message);
    }
    this.deliver(stream, raw, flags, true);
  }

  open(id: number, payload: Buffer): void {
    const session = this.session;
    if (!session.isPeerId(id)) throw new ProtocolError('PROTOCOL_ERROR', `OPEN with stream id ${id}: the peer must use ${session.role === 'server' ? 'odd' : 'even'} ids`);
    if (id <= session.lastPeerId) throw new ProtocolError('PROTOCOL_ERROR', `OPEN reuses stream id ${id} (last was ${session.lastPeerId})`);
    if (!session.peer) throw new ProtocolError('PROTOCOL_ERROR', 'OPEN before SETTINGS');
    session.lastPeerId = id;
    let meta;
    try {
      meta = decodeOpen(payload);
    } catch (err) {
      this.countControl('malformed OPEN');
      return this.refuse(id, 'PROTOCOL_ERROR', (err as Error).message);
    }
    const stream = session.admit(id, meta);
    if (!stream) return this.countControl('refused OPEN');
    try {
      session.emit(session.streamEvent, stream);
    } catch (err) {
      session.log?.error({ err, streamId: id }, 'stream listener threw');
      stream.fail('INTERNAL_ERROR', 'the acceptor failed');
    }
  }

  openOk(id: number): void {
    const stream = this.stream(id, 'OPEN_OK');
    if (!stream) return;
    if (!stream.local) throw new ProtocolError('PROTOCOL_ERROR', `OPEN_OK for stream ${id}, which the peer opened`);
    if (stream.opened) return;
    stream.opened = true;
    if (stream.openTimer) clearTimeout(stream.openTimer);
    stream.openTimer = undefined;
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
    if (flags & Flag.ACK) return this.session.onPong(payload.readUInt32BE(4));
    this.countControl('PING');
    this.session.writer.sendControl(encodeFrame(FrameType.PING, Flag.ACK, 0, payload));
  }

  goAway(payload: Buffer): void {
    const { lastStreamId, code, reason } = decodeGoAway(payload);
    this.session.onPeerGoAway({ lastStreamId, code: errorCodeName(code), reason });
  }

  settings(flags: number, payload: Buffer): void {
    this.countControl('SETTINGS');
    if (flags & Flag.ACK) return;
    const { values, hello } = decodeSettings(payload);
    const previous = this.session.peer;
    const peer: PeerSettings = {
      maxFrameSize: values.get(Setting.MAX_FRAME_SIZE) ?? previous?.maxFrameSize ?? 16_372,
      initialWindow: values.get(Setting.INITIAL_WINDOW) ?? previous?.initialWindow ?? 65_536,
      maxStreams: values.get(Setting.MAX_STREAMS) ?? previous?.maxStreams ?? 1024,
      codecs: (values.get(Setting.CODECS) ?? previous?.codecs ?? 0) & CODEC_LZ4,
      keepaliveMs: values.get(Setting.KEEPALIVE_MS) ?? previous?.keepaliveMs ?? 0,
      version: values.get(Setting.VERSION) ?? previous?.version ?? 1,
      configMax: values.get(Setting.CONFIG) ?? previous?.configMax ?? 0,
    };
    if (previous && peer.initialWindow !== previous.initialWindow) {
      throw new ProtocolError('PROTOCOL_ERROR', 'SETTINGS may not change INITIAL_WINDOW after the first');
    }
    if (hello !== undefined && (hello === null || typeof hello !== 'object' || Array.isArray(hello))) {
      throw new ProtocolError('PROTOCOL_ERROR', 'SETTINGS hello must be a JSON object');
    }
    this.session.onPeerSettings(peer, hello as Record<string, unknown> | undefined);
  }

  config(payload: Buffer): void {
    this.countControl('CONFIG');
    if (!this.session.peer) throw new ProtocolError('PROTOCOL_ERROR', 'CONFIG before SETTINGS');
    const config = decodeConfig(payload);
    try {
      this.session.emit('config', config);
    } catch (err) {
      this.session.log?.error({ err }, 'config listener threw');
    }
  }

  private deliver(stream: WireStream, piece: Buffer, flags: number, last: boolean): void {
    try {
      stream.onPeerData(piece, flags, last);
      if (last && flags & Flag.BLOCKED && !stream.done) this.session.peerBlocked(stream);
    } catch (err) {
      // A consumer's 'data' listener threw: that stream is broken, the others are not.
      this.session.log?.error({ err, streamId: stream.id }, 'stream consumer threw');
      stream.fail('INTERNAL_ERROR', 'the consumer failed');
    }
  }

  private refuse(id: number, code: 'PROTOCOL_ERROR', reason: string): void {
    this.session.sendRawReset(id, code, reason);
  }

  private countControl(what: string): void {
    if (this.session.flood.hit(Date.now())) {
      throw new ProtocolError('FLOOD', `more than ${this.session.opts.maxControlPerSecond} control frames per second (last: ${what})`);
    }
  }
}
