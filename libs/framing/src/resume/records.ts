// The resumable link's records (spec §10): `u8 type | u24 length | payload`. DATA carries the
// session's bytes; ACK the cumulative count received; PING/PONG the link's own keepalive; HELLO,
// WELCOME, RESUMED and REFUSED the handshake on a new connection. Pure: no sockets here.

export const RecordType = {
  DATA: 0x01,
  ACK: 0x02,
  PING: 0x03,
  PONG: 0x04,
  /** the sender's session wrote its last byte (graceful end: a loss after it is not resumed) */
  FIN: 0x05,
  HELLO: 0x10,
  WELCOME: 0x11,
  RESUMED: 0x12,
  REFUSED: 0x13,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export const RECORD_HEADER = 4;
/** Largest DATA payload a sender puts in one record (a receiver refuses larger ones). */
export const MAX_DATA_RECORD = 64 * 1024;
/** Largest payload of any other record. */
export const MAX_CONTROL_RECORD = 1024 + 64;
export const SESSION_ID_BYTES = 16;
/** The first bytes of a session id: a tag of the server that issued it (its server id's SHA-256 prefix). */
export const ISSUER_TAG_BYTES = 4;
export const SECRET_BYTES = 32;
export const PROOF_BYTES = 32;
export const LINK_VERSION = 1;

/** Why a resume was refused (REFUSED's code). */
export const RefuseCode = {
  UNKNOWN_SESSION: 1,
  BAD_PROOF: 2,
  WRONG_NODE: 3,
  BUSY: 4,
  BAD_OFFSET: 5,
  DISABLED: 6,
  MALFORMED: 7,
  /** the session id's issuer tag names another replica: a load balancer sent the resume elsewhere */
  OTHER_REPLICA: 8,
} as const;
export type RefuseCodeName = keyof typeof RefuseCode;

export function refuseCodeName(code: number): RefuseCodeName | 'UNKNOWN' {
  const hit = (Object.keys(RefuseCode) as RefuseCodeName[]).find((k) => RefuseCode[k] === code);
  return hit ?? 'UNKNOWN';
}

export class LinkProtocolError extends Error {
  readonly code = 'ERR_RESUME_PROTOCOL';
}

/** Writes a record header (type, 3-byte payload length) into `out` at `at`. */
export function putHeader(out: Buffer, at: number, type: RecordType, length: number): void {
  out[at] = type;
  out.writeUIntBE(length, at + 1, 3);
}

export function encodeRecord(type: RecordType, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(RECORD_HEADER + length);
  putHeader(out, 0, type, length);
  if (payload) out.set(payload, RECORD_HEADER);
  return out;
}

/** Just the header of a DATA record (the payload is written after it, uncopied). */
export function dataHeader(length: number): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER);
  putHeader(out, 0, RecordType.DATA, length);
  return out;
}

/** The size of a record carrying one offset (ACK). */
export const OFFSET_RECORD = RECORD_HEADER + 8;

/** Writes a whole offset record into `out` at `at` (OFFSET_RECORD bytes). */
export function putOffsetRecord(out: Buffer, at: number, type: typeof RecordType.ACK, offset: number): void {
  putHeader(out, at, type, 8);
  out.writeBigUInt64BE(BigInt(offset), at + RECORD_HEADER);
}

export function encodeOffset(type: typeof RecordType.ACK, offset: number): Buffer {
  const out = Buffer.allocUnsafe(OFFSET_RECORD);
  putOffsetRecord(out, 0, type, offset);
  return out;
}

export function readOffset(payload: Buffer): number {
  if (payload.length < 8) throw new LinkProtocolError(`offset needs 8 bytes, got ${payload.length}`);
  const v = payload.readBigUInt64BE(0);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new LinkProtocolError(`offset ${v} above 2^53-1`);
  return Number(v);
}

export interface RecordSink {
  record(type: number, payload: Buffer): void;
}

/**
 * Splits a byte stream into records. DATA payloads are passed on as slices of the incoming chunks
 * where they do not straddle chunks; a header or a payload that straddles chunks is copied into a
 * buffer of exactly its size (so memory per partial record ≤ 4 + 64 KiB).
 */
export class RecordDecoder {
  private header = Buffer.alloc(RECORD_HEADER);
  private headerFill = 0;
  private type = 0;
  private need = -1; // payload bytes still expected; -1 = reading a header
  private parts: Buffer[] = [];

  constructor(
    private readonly sink: RecordSink,
    private readonly maxData = MAX_DATA_RECORD,
  ) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.need < 0) {
        const take = Math.min(RECORD_HEADER - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < RECORD_HEADER) return;
        this.headerFill = 0;
        this.type = this.header[0]!;
        this.need = this.header.readUIntBE(1, 3);
        this.check(this.type, this.need);
        if (this.need === 0) this.deliver(Buffer.alloc(0));
        continue;
      }
      const take = Math.min(this.need, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      this.need -= take;
      if (this.need > 0) {
        this.parts.push(piece);
        continue;
      }
      const payload = this.parts.length === 0 ? piece : Buffer.concat([...this.parts.splice(0), piece]);
      this.deliver(payload);
    }
  }

  private deliver(payload: Buffer): void {
    this.need = -1;
    this.sink.record(this.type, payload);
  }

  private check(type: number, length: number): void {
    if (type === RecordType.DATA) {
      if (length > this.maxData) throw new LinkProtocolError(`DATA record of ${length} bytes (max ${this.maxData})`);
      return;
    }
    if (!(Object.values(RecordType) as number[]).includes(type)) throw new LinkProtocolError(`unknown record type 0x${type.toString(16)}`);
    if (length > MAX_CONTROL_RECORD) throw new LinkProtocolError(`record 0x${type.toString(16)} of ${length} bytes (max ${MAX_CONTROL_RECORD})`);
    if ((type === RecordType.ACK || type === RecordType.PING || type === RecordType.PONG) && length !== 8) {
      throw new LinkProtocolError(`record 0x${type.toString(16)} must be 8 bytes, got ${length}`);
    }
  }
}
