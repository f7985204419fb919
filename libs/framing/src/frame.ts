// Frame header encode/decode: type u8 | flags u8 | reserved u16 (0) | streamId u32 | length u32, big-endian.
import { HEADER_SIZE, Offset } from './constants.js';

/** A decoded 12-byte frame header; `length` is the payload length. */
export interface FrameHeader {
  type: number;
  flags: number;
  streamId: number;
  length: number;
}

/**
 * Writes a 12-byte header at `offset` of `target` (which must have room for it).
 * Throws RangeError (from Buffer) when a field does not fit its width.
 */
export function writeHeader(target: Buffer, offset: number, type: number, flags: number, streamId: number, length: number): void {
  target.writeUInt8(type, offset + Offset.TYPE);
  target.writeUInt8(flags, offset + Offset.FLAGS);
  target.writeUInt16BE(0, offset + Offset.RESERVED);
  target.writeUInt32BE(streamId, offset + Offset.STREAM_ID);
  target.writeUInt32BE(length, offset + Offset.LENGTH);
}

/** Header + payload in one new buffer (control frames, tests). */
export function encodeFrame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload === undefined ? 0 : payload.length;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(frame, 0, type, flags, streamId, length);
  if (payload !== undefined) frame.set(payload, HEADER_SIZE);
  return frame;
}

/** Reads the header at `offset` (default 0). Throws RangeError when fewer than 12 bytes remain. */
export function readHeader(buf: Buffer, offset = 0): FrameHeader {
  if (offset < 0 || buf.length - offset < HEADER_SIZE) {
    throw new RangeError(`a frame header needs ${HEADER_SIZE} bytes, ${Math.max(0, buf.length - offset)} available`);
  }
  return {
    type: buf[offset + Offset.TYPE],
    flags: buf[offset + Offset.FLAGS],
    streamId: buf.readUInt32BE(offset + Offset.STREAM_ID),
    length: buf.readUInt32BE(offset + Offset.LENGTH),
  };
}
