// The resume handshake on a new connection (spec §10.4). The client's first record is HELLO (new
// session, or resume: session id, bytes received, proof); the server's first record answers it:
// WELCOME (new: session id, secret, grace), RESUMED (bytes received, the server's own proof) or
// REFUSED (code, reason). Link records may follow either first record at once.
import type { Duplex } from 'node:stream';
import {
  encodeRecord,
  LINK_VERSION,
  LinkProtocolError,
  MAX_CONTROL_RECORD,
  PROOF_BYTES,
  RECORD_HEADER,
  RecordType,
  RefuseCode,
  refuseCodeName,
  SECRET_BYTES,
  SESSION_ID_BYTES,
  type RefuseCodeName,
} from './records.js';

const MODE_NEW = 0;
const MODE_RESUME = 1;

/** What the server issued at attach: the session's name and the key that proves a resume. */
export interface ResumeCredentials {
  sessionId: Buffer;
  secret: Buffer;
  /** how long the server keeps the session after a loss */
  graceMs: number;
}

export type ClientHello = { mode: 'new' } | { mode: 'resume'; sessionId: Buffer; received: number; proof: Buffer };

export type ServerAnswer =
  | { kind: 'welcome'; credentials: ResumeCredentials }
  | { kind: 'resumed'; received: number; proof: Buffer }
  | { kind: 'refused'; code: RefuseCodeName | 'UNKNOWN'; reason: string };

export function encodeHello(hello: ClientHello): Buffer {
  if (hello.mode === 'new') return encodeRecord(RecordType.HELLO, Buffer.from([LINK_VERSION, MODE_NEW]));
  const p = Buffer.alloc(2 + SESSION_ID_BYTES + 8 + PROOF_BYTES);
  p[0] = LINK_VERSION;
  p[1] = MODE_RESUME;
  hello.sessionId.copy(p, 2);
  p.writeBigUInt64BE(BigInt(hello.received), 2 + SESSION_ID_BYTES);
  hello.proof.copy(p, 2 + SESSION_ID_BYTES + 8);
  return encodeRecord(RecordType.HELLO, p);
}

export function decodeHello(payload: Buffer): ClientHello {
  if (payload.length < 2) throw new LinkProtocolError('HELLO shorter than 2 bytes');
  if (payload[0] !== LINK_VERSION) throw new LinkProtocolError(`HELLO version ${payload[0]}, this side speaks ${LINK_VERSION}`);
  if (payload[1] === MODE_NEW) return { mode: 'new' };
  if (payload[1] !== MODE_RESUME || payload.length !== 2 + SESSION_ID_BYTES + 8 + PROOF_BYTES) throw new LinkProtocolError('malformed resume HELLO');
  const received = payload.readBigUInt64BE(2 + SESSION_ID_BYTES);
  if (received > BigInt(Number.MAX_SAFE_INTEGER)) throw new LinkProtocolError('HELLO offset above 2^53-1');
  return {
    mode: 'resume',
    sessionId: Buffer.from(payload.subarray(2, 2 + SESSION_ID_BYTES)),
    received: Number(received),
    proof: Buffer.from(payload.subarray(2 + SESSION_ID_BYTES + 8)),
  };
}

export function encodeWelcome(c: ResumeCredentials): Buffer {
  const p = Buffer.alloc(SESSION_ID_BYTES + SECRET_BYTES + 4);
  c.sessionId.copy(p, 0);
  c.secret.copy(p, SESSION_ID_BYTES);
  p.writeUInt32BE(Math.min(c.graceMs, 0xffff_ffff), SESSION_ID_BYTES + SECRET_BYTES);
  return encodeRecord(RecordType.WELCOME, p);
}

export function encodeResumed(received: number, proof: Buffer): Buffer {
  const p = Buffer.alloc(8 + PROOF_BYTES);
  p.writeBigUInt64BE(BigInt(received));
  proof.copy(p, 8);
  return encodeRecord(RecordType.RESUMED, p);
}

export function encodeRefused(code: RefuseCodeName, reason: string): Buffer {
  let r = Buffer.from(reason, 'utf8');
  if (r.length > 1024) r = Buffer.from(new TextDecoder().decode(r.subarray(0, 1024)).replace(/\uFFFD$/, ''), 'utf8');
  return encodeRecord(RecordType.REFUSED, Buffer.concat([Buffer.from([RefuseCode[code]]), r]));
}

export function decodeAnswer(type: number, payload: Buffer): ServerAnswer {
  switch (type) {
    case RecordType.WELCOME:
      if (payload.length !== SESSION_ID_BYTES + SECRET_BYTES + 4) throw new LinkProtocolError('malformed WELCOME');
      return {
        kind: 'welcome',
        credentials: {
          sessionId: Buffer.from(payload.subarray(0, SESSION_ID_BYTES)),
          secret: Buffer.from(payload.subarray(SESSION_ID_BYTES, SESSION_ID_BYTES + SECRET_BYTES)),
          graceMs: payload.readUInt32BE(SESSION_ID_BYTES + SECRET_BYTES),
        },
      };
    case RecordType.RESUMED: {
      if (payload.length !== 8 + PROOF_BYTES) throw new LinkProtocolError('malformed RESUMED');
      const received = payload.readBigUInt64BE(0);
      if (received > BigInt(Number.MAX_SAFE_INTEGER)) throw new LinkProtocolError('RESUMED offset above 2^53-1');
      return { kind: 'resumed', received: Number(received), proof: Buffer.from(payload.subarray(8)) };
    }
    case RecordType.REFUSED:
      if (payload.length < 1) throw new LinkProtocolError('malformed REFUSED');
      return { kind: 'refused', code: refuseCodeName(payload[0]!), reason: payload.subarray(1).toString('utf8') };
    default:
      throw new LinkProtocolError(`expected WELCOME, RESUMED or REFUSED, got record 0x${type.toString(16)}`);
  }
}

/**
 * Reads exactly one record from a socket that has not been handed to a link yet; resolves with it
 * and the bytes that followed it in the same chunk. Rejects on a timeout, an oversized record or
 * the socket's end.
 */
export function readFirstRecord(socket: Duplex, timeoutMs: number): Promise<{ type: number; payload: Buffer; leftover: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: { type: number; payload: Buffer; leftover: Buffer }): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (err) reject(err);
      else {
        socket.pause();
        resolve(value!);
      }
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length < RECORD_HEADER) return;
      const length = buf.readUIntBE(1, 3);
      if (length > MAX_CONTROL_RECORD) return done(new LinkProtocolError(`handshake record of ${length} bytes`));
      if (buf.length < RECORD_HEADER + length) return;
      done(undefined, { type: buf[0]!, payload: buf.subarray(RECORD_HEADER, RECORD_HEADER + length), leftover: buf.subarray(RECORD_HEADER + length) });
    };
    const onEnd = (): void => done(new Error('the connection closed during the resume handshake'));
    const onError = (err: Error): void => done(err);
    const timer = setTimeout(() => done(new Error(`no resume handshake within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
  });
}
