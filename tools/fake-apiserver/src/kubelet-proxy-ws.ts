// A minimal WebSocket client (RFC 6455) over an already-upgraded socket: binary messages out
// (masked), binary/text messages in (reassembled), ping → pong, close handshake. Enough to speak
// the kubelet's WebSocket port-forward without a dependency.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

/** Frame opcodes. */
const Op = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;
/** Incoming messages larger than this end the connection. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Events: 'message' (Buffer), 'close' (code: number). */
export class WsClient extends EventEmitter {
  private buffered: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private closed = false;

  constructor(readonly socket: Duplex) {
    super();
    // Read only once someone listens for messages: the kubelet's first messages (the port prefaces)
    // often arrive with the 101, before the caller — after an await — has attached its handler.
    const read = (event: string | symbol): void => {
      if (event !== 'message') return;
      this.off('newListener', read);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
    };
    this.on('newListener', read);
    socket.on('error', () => this.finish(1006));
    socket.on('close', () => this.finish(1006));
    socket.on('end', () => this.finish(1006));
  }

  /** Send one binary message; returns the socket's write() result (false: wait for 'drain'). */
  send(data: Buffer): boolean {
    if (this.closed) return true;
    return this.socket.write(encodeFrame(Op.binary, data));
  }

  /** Start the close handshake; the socket ends when the server answers (or after 1 s). */
  close(code = 1000): void {
    if (this.closed) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.socket.write(encodeFrame(Op.close, payload));
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.emit('close', code);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const frame = decodeFrame(this.buffered);
      if (frame === undefined) return;
      if (frame === 'too-large') return this.finish(1009);
      this.buffered = this.buffered.subarray(frame.size);
      this.onFrame(frame.fin, frame.opcode, frame.payload);
      if (this.closed) return;
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === Op.ping) return void this.socket.write(encodeFrame(Op.pong, payload));
    if (opcode === Op.pong) return;
    if (opcode === Op.close) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (!this.socket.destroyed) this.socket.end(encodeFrame(Op.close, payload.subarray(0, 2)));
      return this.finish(code);
    }
    this.fragments.push(payload);
    if (!fin) return;
    const message = Buffer.concat(this.fragments.splice(0));
    this.emit('message', message);
  }
}

function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = Buffer.alloc(len < 126 ? 2 : len < 65536 ? 4 : 10);
  head[0] = 0x80 | opcode;
  if (len < 126) head[1] = 0x80 | len;
  else if (len < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i += 1) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, masked]);
}

function decodeFrame(b: Buffer): { fin: boolean; opcode: number; payload: Buffer; size: number } | 'too-large' | undefined {
  if (b.length < 2) return undefined;
  const fin = (b[0]! & 0x80) !== 0;
  const opcode = b[0]! & 0x0f;
  const masked = (b[1]! & 0x80) !== 0;
  let len = b[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    if (b.length < 4) return undefined;
    len = b.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    if (b.length < 10) return undefined;
    const big = b.readBigUInt64BE(2);
    if (big > BigInt(MAX_MESSAGE_BYTES)) return 'too-large';
    len = Number(big);
    at = 10;
  }
  if (len > MAX_MESSAGE_BYTES) return 'too-large';
  const maskAt = at;
  if (masked) at += 4;
  if (b.length < at + len) return undefined;
  const payload = Buffer.from(b.subarray(at, at + len));
  if (masked) for (let i = 0; i < len; i += 1) payload[i] = payload[i]! ^ b[maskAt + (i & 3)]!;
  return { fin, opcode, payload, size: at + len };
}
