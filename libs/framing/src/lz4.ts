// LZ4 block compression for COMPRESSED DATA payloads: u32 big-endian raw length + one LZ4 block.
// Compression uses lz4js.compressBlock (a zeroed hash table per block, a reused output buffer);
// decompression is our own bounds-checked decoder: peer bytes never reach lz4js.
import * as lz4js from 'lz4js';
import { ProtocolError } from './errors.js';

/** lz4js's real signature (its published types name the 5th parameter `dIndex`). */
type CompressBlock = (src: ArrayLike<number>, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array) => number;
const compressBlock = lz4js.compressBlock as unknown as CompressBlock;

/** lz4js hashes 4-byte sequences into 2^16 slots. */
const HASH_SIZE = 1 << 16;
/** Bytes before the LZ4 block: the u32 raw length. */
const RAW_LENGTH_SIZE = 4;
/** LZ4 matches are at least 4 bytes long; the token stores length - 4. */
const MIN_MATCH = 4;
/** Send compressed only if payload < this fraction of the raw size. */
const WORTH_RATIO = 0.9;

const hashTable = new Uint32Array(HASH_SIZE);
let scratch = new Uint8Array(0);

/**
 * The COMPRESSED DATA payload for `raw`, or null when compression does not pay (incompressible,
 * or 4 + block ≥ 90 % of raw): then send `raw` uncompressed.
 */
export function compressPayload(raw: Buffer): Buffer | null {
  if (raw.length === 0) return null;
  const bound = lz4js.compressBound(raw.length);
  if (scratch.length < bound) scratch = new Uint8Array(bound);
  hashTable.fill(0); // lz4js corrupts its output when positions of another block are left here
  const size = compressBlock(raw, scratch, 0, raw.length, hashTable);
  if (size === 0 || RAW_LENGTH_SIZE + size >= WORTH_RATIO * raw.length) return null;
  const payload = Buffer.allocUnsafe(RAW_LENGTH_SIZE + size);
  payload.writeUInt32BE(raw.length, 0);
  payload.set(scratch.subarray(0, size), RAW_LENGTH_SIZE);
  return payload;
}

function fail(message: string): never {
  throw new ProtocolError('COMPRESSION_ERROR', message);
}

/**
 * Decodes a COMPRESSED DATA payload into a new buffer of exactly its declared raw length, which must
 * be 1..maxRawLength. Any literal or match that would leave the input or the output, a match offset
 * of 0 or before the start, or an output not filled exactly throws ProtocolError COMPRESSION_ERROR.
 */
export function decompressPayload(payload: Buffer, maxRawLength: number): Buffer {
  if (payload.length < RAW_LENGTH_SIZE + 1) fail(`compressed payload of ${payload.length} bytes is too short`);
  const rawLength = payload.readUInt32BE(0);
  if (rawLength === 0 || rawLength > maxRawLength) fail(`declared raw length ${rawLength} outside 1..${maxRawLength}`);
  const out = Buffer.allocUnsafe(rawLength);
  const written = decodeBlock(payload, RAW_LENGTH_SIZE, out);
  if (written !== rawLength) fail(`block decoded to ${written} bytes, declared ${rawLength}`);
  return out;
}

/** Reads an LZ4 length extension (bytes of 255 then a final byte) starting at `ip`; returns [added, next ip]. */
function readLength(src: Buffer, ip: number, limit: number): [number, number] {
  let added = 0;
  for (;;) {
    if (ip >= src.length) fail('block ends inside a length');
    const b = src[ip++];
    added += b;
    if (added > limit) fail(`length exceeds the ${limit} bytes left`);
    if (b !== 255) return [added, ip];
  }
}

/** Literal runs and matches up to this many bytes are copied byte by byte: cheaper than a native copy call. */
const SHORT_COPY = 32;

/** Decodes the block `src[ip..]` into `out`; returns the number of bytes written. */
function decodeBlock(src: Buffer, ip: number, out: Buffer): number {
  const inEnd = src.length;
  const outEnd = out.length;
  let op = 0;
  while (ip < inEnd) {
    const token = src[ip++];
    let literals = token >>> 4;
    if (literals === 15) {
      const [added, next] = readLength(src, ip, outEnd);
      literals += added;
      ip = next;
    }
    if (literals > inEnd - ip) fail(`literal run of ${literals} bytes passes the end of the input`);
    if (literals > outEnd - op) fail(`literal run of ${literals} bytes passes the end of the output`);
    if (literals <= SHORT_COPY) {
      for (let i = 0; i < literals; i++) out[op + i] = src[ip + i];
    } else {
      src.copy(out, op, ip, ip + literals);
    }
    ip += literals;
    op += literals;
    if (ip === inEnd) break; // the last sequence has literals only
    if (inEnd - ip < 2) fail('block ends inside a match offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) fail(`match offset ${offset} at output position ${op}`);
    let length = token & 15;
    if (length === 15) {
      const [added, next] = readLength(src, ip, outEnd);
      length += added;
      ip = next;
    }
    length += MIN_MATCH;
    if (length > outEnd - op) fail(`match of ${length} bytes passes the end of the output`);
    if (length <= SHORT_COPY || offset < length) {
      // byte by byte: also repeats the pattern of an overlapping match (offset < length)
      let from = op - offset;
      const end = op + length;
      while (op < end) out[op++] = out[from++];
    } else {
      out.copyWithin(op, op - offset, op - offset + length);
      op += length;
    }
  }
  return op;
}
