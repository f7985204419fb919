// Cut-through frame decoder. It never concatenates leftovers: only a header that straddles chunks
// (12 bytes, allocated on the first straddle and outside Buffer's pool, so an idle session pins no
// pool slab) and whole-frame payloads (control frames, COMPRESSED DATA) that straddle chunks are
// copied, into one buffer of exactly the payload length. Uncompressed DATA is handed on as
// subarray slices of the incoming chunks, as they arrive (the slices pin their chunk).
import { Flag, FrameType, HEADER_SIZE, MAX_CONTROL_PAYLOAD, MAX_STREAM_ID } from './constants.js';
import { ProtocolError } from './errors.js';
import { frameTypeName } from './describe.js';

export interface DecoderSink {
  /** Uncompressed DATA payload bytes, as slices of incoming chunks; `last` on the slice that completes the frame (a zero-length frame gives one call with an empty piece and last=true). `flags` are the frame's flags (FIN / BLOCKED apply when last). */
  onData(streamId: number, flags: number, piece: Buffer, last: boolean): void;
  /** Every other frame, whole (and COMPRESSED DATA frames, whole payload). */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void;
}

export interface DecoderOptions {
  maxFrameSize: number;
  /** default MAX_CONTROL_PAYLOAD */
  maxControlPayload?: number;
  /** largest CONFIG payload accepted; 0 (default): a CONFIG frame is a PROTOCOL_ERROR */
  maxConfigPayload?: number;
}

const EMPTY = Buffer.alloc(0);

/** Between frames, or collecting header bytes. */
const S_HEADER = 0;
/** Handing uncompressed DATA slices on as they arrive. */
const S_DATA = 1;
/** Collecting a payload that is delivered whole. */
const S_WHOLE = 2;

/** Payload length each fixed-size frame type must have (-1: variable). */
const FIXED_LENGTH = [-1, 8, -1, 0, -1, 8, -1, -1, -1];
/** Whether a frame type is session-level (stream id 0) rather than stream-level. */
const SESSION_LEVEL = [false, false, false, false, false, true, true, true, true];

export class FrameDecoder {
  /** Largest DATA payload accepted; may be changed at runtime (applies from the next header). */
  maxFrameSize: number;
  readonly maxControlPayload: number;
  readonly maxConfigPayload: number;
  private readonly sink: DecoderSink;
  private header: Buffer | null = null;
  private headerFill = 0;
  private state = S_HEADER;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  /** payload bytes of the current frame not received yet */
  private remaining = 0;
  private whole: Buffer | null = null;
  private wholeFill = 0;
  private failure: unknown = null;
  private failed = false;

  constructor(sink: DecoderSink, options: DecoderOptions) {
    this.sink = sink;
    this.maxFrameSize = options.maxFrameSize;
    this.maxControlPayload = options.maxControlPayload ?? MAX_CONTROL_PAYLOAD;
    this.maxConfigPayload = options.maxConfigPayload ?? 0;
  }

  /** bytes of a partially received frame currently held (header bytes + reassembly buffer) */
  get buffered(): number {
    return this.headerFill + this.wholeFill;
  }

  /** the decoder is between frames (no partial frame pending) */
  get idle(): boolean {
    return this.state === S_HEADER && this.headerFill === 0;
  }

  /**
   * Feeds one chunk. Throws ProtocolError on a malformed header; an exception thrown by the sink
   * propagates too. Either way the rest of the chunk is lost, so the decoder stays failed and every
   * later push() throws the same error.
   */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failed = true;
      this.failure = err;
      throw err;
    }
  }

  private consume(chunk: Buffer): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      if (this.state === S_DATA) {
        const n = Math.min(this.remaining, end - pos);
        this.remaining -= n;
        const last = this.remaining === 0;
        if (last) this.state = S_HEADER;
        this.sink.onData(this.streamId, this.flags, chunk.subarray(pos, pos + n), last);
        pos += n;
      } else if (this.state === S_HEADER) {
        if (this.headerFill === 0 && end - pos >= HEADER_SIZE) {
          this.beginFrame(chunk, pos);
          pos += HEADER_SIZE;
        } else {
          const n = Math.min(HEADER_SIZE - this.headerFill, end - pos);
          this.header ??= Buffer.alloc(HEADER_SIZE);
          this.header.set(chunk.subarray(pos, pos + n), this.headerFill);
          this.headerFill += n;
          pos += n;
          if (this.headerFill < HEADER_SIZE) return;
          this.headerFill = 0;
          this.beginFrame(this.header, 0);
        }
      } else {
        pos = this.collect(chunk, pos);
      }
    }
  }

  /** Collects a whole-delivered payload; returns the new position in `chunk`. */
  private collect(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    if (this.whole === null && available >= this.remaining) {
      const end = pos + this.remaining;
      this.endWhole(chunk.subarray(pos, end));
      return end;
    }
    if (this.whole === null) this.whole = Buffer.allocUnsafe(this.remaining);
    const n = Math.min(this.remaining, available);
    this.whole.set(chunk.subarray(pos, pos + n), this.wholeFill);
    this.wholeFill += n;
    this.remaining -= n;
    if (this.remaining === 0) {
      const payload = this.whole;
      this.whole = null;
      this.wholeFill = 0;
      this.endWhole(payload);
    }
    return pos + n;
  }

  private endWhole(payload: Buffer): void {
    this.state = S_HEADER;
    this.remaining = 0;
    this.sink.onFrame(this.type, this.flags, this.streamId, payload);
  }

  /** Parses and validates the header at `buf[at]`, then starts its payload (or emits an empty one). */
  private beginFrame(buf: Buffer, at: number): void {
    const type = buf[at];
    const flags = buf[at + 1];
    const streamId = ((buf[at + 4] << 24) | (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7]) >>> 0;
    const length = ((buf[at + 8] << 24) | (buf[at + 9] << 16) | (buf[at + 10] << 8) | buf[at + 11]) >>> 0;
    validateHeader(type, flags, streamId, length, this.maxFrameSize, this.maxControlPayload, this.maxConfigPayload);
    this.type = type;
    this.flags = flags;
    this.streamId = streamId;
    this.remaining = length;
    if (type === FrameType.DATA && (flags & Flag.COMPRESSED) === 0) {
      if (length === 0) this.sink.onData(streamId, flags, EMPTY, true);
      else this.state = S_DATA;
    } else if (length === 0) {
      this.sink.onFrame(type, flags, streamId, EMPTY);
    } else {
      this.state = S_WHOLE;
    }
  }
}

/**
 * Throws the ProtocolError a header deserves, checked in this order: unknown type, stream id
 * (session-level frames on 0, stream frames on 1..MAX_STREAM_ID), then payload length.
 */
export function validateHeader(
  type: number,
  flags: number,
  streamId: number,
  length: number,
  maxFrameSize: number,
  maxControlPayload: number,
  maxConfigPayload = 0,
): void {
  if (type > FrameType.CONFIG) {
    throw new ProtocolError('PROTOCOL_ERROR', `unknown frame type 0x${type.toString(16)}`);
  }
  if (SESSION_LEVEL[type]) {
    if (streamId !== 0) throw new ProtocolError('PROTOCOL_ERROR', `${frameTypeName(type)} on stream ${streamId}, must be 0`);
  } else if (streamId === 0 || streamId > MAX_STREAM_ID) {
    throw new ProtocolError('PROTOCOL_ERROR', `${frameTypeName(type)} on stream id ${streamId}, must be 1..${MAX_STREAM_ID}`);
  }
  if (type === FrameType.DATA) {
    if (length > maxFrameSize) {
      const what = flags & Flag.COMPRESSED ? 'compressed DATA' : 'DATA';
      throw new ProtocolError('FRAME_SIZE_ERROR', `${what} of ${length} bytes exceeds max frame size ${maxFrameSize}`);
    }
    return;
  }
  if (type === FrameType.CONFIG) {
    if (maxConfigPayload === 0) throw new ProtocolError('PROTOCOL_ERROR', 'CONFIG frame, but this side announced no CONFIG setting');
    if (length > maxConfigPayload) throw new ProtocolError('FRAME_SIZE_ERROR', `CONFIG payload of ${length} bytes exceeds ${maxConfigPayload}`);
    return;
  }
  const fixed = FIXED_LENGTH[type];
  if (fixed >= 0) {
    if (length !== fixed) throw new ProtocolError('FRAME_SIZE_ERROR', `${frameTypeName(type)} payload of ${length} bytes, must be ${fixed}`);
  } else if (length > maxControlPayload) {
    throw new ProtocolError('FRAME_SIZE_ERROR', `${frameTypeName(type)} payload of ${length} bytes exceeds ${maxControlPayload}`);
  }
}
