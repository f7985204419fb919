// Control payloads: WINDOW, RESET, GOAWAY, SETTINGS, OPEN. Every decode validates its input and throws
// ProtocolError (FRAME_SIZE_ERROR for a wrong length, PROTOCOL_ERROR for a bad value); every encode
// throws TypeError/RangeError on arguments that the peer would reject.
import { MAX_CONFIG_PAYLOAD, MAX_CONTROL_PAYLOAD, MAX_MAX_FRAME_SIZE, MAX_REASON_BYTES, MAX_STREAM_ID, MIN_MAX_FRAME_SIZE, Setting } from './constants.js';
import { ProtocolError } from './errors.js';

const TWO_32 = 2 ** 32;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decode: invalid bytes are a PROTOCOL_ERROR naming `what`. */
function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return utf8.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch {
    throw new ProtocolError('PROTOCOL_ERROR', `${what} is not valid UTF-8`);
  }
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_32) throw new RangeError(`${what} must be a u32, got ${value}`);
}

function checkControlSize(p: Buffer, what: string): Buffer {
  if (p.length > MAX_CONTROL_PAYLOAD) throw new RangeError(`${what} payload of ${p.length} bytes exceeds ${MAX_CONTROL_PAYLOAD}`);
  return p;
}

/** UTF-8 bytes of `text`, cut to at most `max` bytes on a character boundary. */
export function truncateUtf8(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return bytes;
  let cut = max;
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--; // never split a multi-byte sequence
  return bytes.subarray(0, cut);
}

// --- WINDOW: u64 absolute credit offset ---

export function encodeWindow(offset: number): Buffer {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`window offset must be an integer 0..2^53-1, got ${offset}`);
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(Math.floor(offset / TWO_32), 0);
  p.writeUInt32BE(offset % TWO_32, 4);
  return p;
}

export function decodeWindow(p: Buffer): number {
  if (p.length !== 8) throw new ProtocolError('FRAME_SIZE_ERROR', `WINDOW payload of ${p.length} bytes, must be 8`);
  const high = p.readUInt32BE(0);
  if (high > 0x1f_ffff) throw new ProtocolError('PROTOCOL_ERROR', 'WINDOW offset exceeds 2^53-1');
  return high * TWO_32 + p.readUInt32BE(4);
}

// --- RESET: u32 code + UTF-8 reason ---

export function encodeReset(code: number, reason: string): Buffer {
  checkU32(code, 'RESET code');
  const text = truncateUtf8(reason, MAX_REASON_BYTES);
  const p = Buffer.allocUnsafe(4 + text.length);
  p.writeUInt32BE(code, 0);
  p.set(text, 4);
  return p;
}

export function decodeReset(p: Buffer): { code: number; reason: string } {
  if (p.length < 4) throw new ProtocolError('FRAME_SIZE_ERROR', `RESET payload of ${p.length} bytes, needs at least 4`);
  return { code: p.readUInt32BE(0), reason: decodeReason(p.subarray(4), 'RESET') };
}

function decodeReason(bytes: Buffer, frame: string): string {
  if (bytes.length > MAX_REASON_BYTES) {
    throw new ProtocolError('FRAME_SIZE_ERROR', `${frame} reason of ${bytes.length} bytes exceeds ${MAX_REASON_BYTES}`);
  }
  return decodeUtf8(bytes, `${frame} reason`);
}

// --- GOAWAY: u32 last accepted stream id + u32 code + UTF-8 reason ---

export function encodeGoAway(lastStreamId: number, code: number, reason: string): Buffer {
  if (!Number.isInteger(lastStreamId) || lastStreamId < 0 || lastStreamId > MAX_STREAM_ID) {
    throw new RangeError(`GOAWAY lastStreamId must be 0..${MAX_STREAM_ID}, got ${lastStreamId}`);
  }
  checkU32(code, 'GOAWAY code');
  const text = truncateUtf8(reason, MAX_REASON_BYTES);
  const p = Buffer.allocUnsafe(8 + text.length);
  p.writeUInt32BE(lastStreamId, 0);
  p.writeUInt32BE(code, 4);
  p.set(text, 8);
  return p;
}

export function decodeGoAway(p: Buffer): { lastStreamId: number; code: number; reason: string } {
  if (p.length < 8) throw new ProtocolError('FRAME_SIZE_ERROR', `GOAWAY payload of ${p.length} bytes, needs at least 8`);
  const lastStreamId = p.readUInt32BE(0);
  if (lastStreamId > MAX_STREAM_ID) throw new ProtocolError('PROTOCOL_ERROR', `GOAWAY lastStreamId ${lastStreamId} exceeds ${MAX_STREAM_ID}`);
  return { lastStreamId, code: p.readUInt32BE(4), reason: decodeReason(p.subarray(8), 'GOAWAY') };
}

// --- SETTINGS: u16 count | count x (u16 id | u32 value) | UTF-8 JSON hello (may be empty) ---

export function encodeSettings(values: Partial<Record<number, number>>, hello?: unknown): Buffer {
  const entries = Object.entries(values).filter((e): e is [string, number] => e[1] !== undefined);
  const json = hello === undefined ? Buffer.alloc(0) : Buffer.from(stringifyObject(hello, 'SETTINGS hello'), 'utf8');
  const p = Buffer.allocUnsafe(2 + entries.length * 6 + json.length);
  p.writeUInt16BE(entries.length, 0);
  let at = 2;
  for (const [key, value] of entries) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`setting id must be a u16, got ${key}`);
    checkU32(value, `setting ${id}`);
    p.writeUInt16BE(id, at);
    p.writeUInt32BE(value, at + 2);
    at += 6;
  }
  p.set(json, at);
  return checkControlSize(p, 'SETTINGS');
}

export function decodeSettings(p: Buffer): { values: Map<number, number>; hello?: unknown } {
  if (p.length < 2) throw new ProtocolError('FRAME_SIZE_ERROR', `SETTINGS payload of ${p.length} bytes, needs at least 2`);
  const count = p.readUInt16BE(0);
  const end = 2 + count * 6;
  if (end > p.length) throw new ProtocolError('FRAME_SIZE_ERROR', `SETTINGS count ${count} needs ${end} bytes, payload has ${p.length}`);
  const values = new Map<number, number>();
  for (let at = 2; at < end; at += 6) {
    const id = p.readUInt16BE(at);
    if (values.has(id)) throw new ProtocolError('PROTOCOL_ERROR', `SETTINGS id ${id} appears twice`);
    values.set(id, p.readUInt32BE(at + 2));
  }
  const maxFrame = values.get(Setting.MAX_FRAME_SIZE);
  if (maxFrame !== undefined && (maxFrame < MIN_MAX_FRAME_SIZE || maxFrame > MAX_MAX_FRAME_SIZE)) {
    throw new ProtocolError('PROTOCOL_ERROR', `SETTINGS MAX_FRAME_SIZE ${maxFrame} outside ${MIN_MAX_FRAME_SIZE}..${MAX_MAX_FRAME_SIZE}`);
  }
  if (end === p.length) return { values };
  return { values, hello: parseObject(p.subarray(end), 'SETTINGS hello') };
}

// --- CONFIG: UTF-8 JSON object (opaque to the framing) ---

/** The CONFIG payload of `config`; throws TypeError for a non-object, RangeError above `max` bytes. */
export function encodeConfig(config: Record<string, unknown>, max = MAX_CONFIG_PAYLOAD): Buffer {
  const p = Buffer.from(stringifyObject(config, 'CONFIG'), 'utf8');
  if (p.length > max) throw new RangeError(`CONFIG payload of ${p.length} bytes exceeds the peer's ${max}`);
  return p;
}

export function decodeConfig(p: Buffer): Record<string, unknown> {
  return parseObject(p, 'CONFIG');
}

// --- OPEN: UTF-8 JSON metadata ---

export interface OpenMeta {
  host: string;
  port: number;
  kind?: string;
  traceId?: string;
  compress?: boolean;
  [extra: string]: unknown;
}

export function encodeOpen(meta: OpenMeta): Buffer {
  const problem = openProblem(meta);
  if (problem !== null) throw new TypeError(`invalid OPEN metadata: ${problem}`);
  return checkControlSize(Buffer.from(JSON.stringify(meta), 'utf8'), 'OPEN');
}

export function decodeOpen(p: Buffer): OpenMeta {
  const meta = parseObject(p, 'OPEN metadata');
  const problem = openProblem(meta);
  if (problem !== null) throw new ProtocolError('PROTOCOL_ERROR', `OPEN metadata: ${problem}`);
  return meta as OpenMeta;
}

const MAX_META_STRING = 255;

/** What is wrong with OPEN metadata, naming the field, or null. */
function openProblem(meta: Record<string, unknown>): string | null {
  const { host, port, kind, traceId, compress } = meta;
  if (typeof host !== 'string' || host.length === 0 || host.length > MAX_META_STRING) {
    return `host must be a non-empty string of at most ${MAX_META_STRING} characters`;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) return 'port must be an integer 0..65535';
  if ('kind' in meta && (typeof kind !== 'string' || kind.length > MAX_META_STRING)) {
    return `kind must be a string of at most ${MAX_META_STRING} characters`;
  }
  if ('traceId' in meta && (typeof traceId !== 'string' || traceId.length > MAX_META_STRING)) {
    return `traceId must be a string of at most ${MAX_META_STRING} characters`;
  }
  if ('compress' in meta && typeof compress !== 'boolean') return 'compress must be a boolean';
  return null;
}

// --- JSON helpers ---

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringifyObject(value: unknown, what: string): string {
  if (!isObject(value)) throw new TypeError(`${what} must be a JSON object`);
  return JSON.stringify(value);
}

function parseObject(bytes: Buffer, what: string): Record<string, unknown> {
  const text = decodeUtf8(bytes, what);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('PROTOCOL_ERROR', `${what} is not valid JSON`);
  }
  if (!isObject(value)) throw new ProtocolError('PROTOCOL_ERROR', `${what} is not a JSON object`);
  return value;
}
