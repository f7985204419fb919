// Holds a new TCP connection until its first TLS record (the ClientHello) has arrived whole, and only
// then hands it on to the TLS server (or to the agent port's handshake pacer). A connection that
// sends nothing holds no handshake slot and no TLS state: it is closed after `timeoutMs`, and when
// `max` connections are waiting the oldest is closed for each new one (a real client sends its
// ClientHello at once, so the oldest waiting are the idle ones). The bytes read are put back with
// unshift(): the TLS socket that wraps the connection reads them first.
import type { Socket } from 'node:net';
import { TlsRefusal } from './refusals.js';

/** TLS record type of a handshake (ClientHello) */
const HANDSHAKE_RECORD = 0x16;
const RECORD_HEADER = 5;
/** TLS 1.2 allows ciphertext records of 2^14 + 2048; a ClientHello is plaintext, 2^14 at most */
const MAX_RECORD = 16_384 + 2_048;

/** What is missing of the first record: 0 complete, -1 not TLS, else bytes still to come. */
export function firstRecordMissing(buf: Buffer): number {
  if (buf.length === 0) return RECORD_HEADER;
  if (buf[0] !== HANDSHAKE_RECORD) return -1;
  if (buf.length >= 2 && buf[1] !== 0x03) return -1;
  if (buf.length < RECORD_HEADER) return RECORD_HEADER - buf.length;
  const length = buf.readUInt16BE(3);
  if (length === 0 || length > MAX_RECORD) return -1;
  return Math.max(0, RECORD_HEADER + length - buf.length);
}

export interface GateOptions {
  timeoutMs: number;
  /** connections waiting for their ClientHello at once */
  max: number;
}

interface Waiting {
  timer: NodeJS.Timeout;
  chunks: Buffer[];
  onReadable: () => void;
  onClose: () => void;
}

export class ClientHelloGate {
  private readonly waiting = new Map<Socket, Waiting>();

  /**
   * `pass` gets a connection whose first record is complete (paused, the record unshifted back);
   * `refuse` one closed here, with the reason (the gate destroys it).
   */
  constructor(
    private readonly opts: GateOptions,
    private readonly pass: (socket: Socket) => void,
    private readonly refuse: (socket: Socket, reason: TlsRefusal) => void,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  admit(socket: Socket): void {
    while (this.waiting.size >= this.opts.max) {
      const oldest = this.waiting.keys().next().value as Socket;
      this.drop(oldest, TlsRefusal.EVICTED);
    }
    const w: Waiting = {
      chunks: [],
      timer: setTimeout(() => this.drop(socket, TlsRefusal.CLIENT_HELLO_TIMEOUT), this.opts.timeoutMs),
      onReadable: () => this.onReadable(socket, w),
      onClose: () => this.forget(socket),
    };
    this.waiting.set(socket, w);
    socket.on('readable', w.onReadable);
    socket.on('error', onError);
    socket.on('close', w.onClose);
  }

  /** Closes every waiting connection (the listener is closing). */
  dropAll(): void {
    for (const socket of [...this.waiting.keys()]) {
      this.forget(socket);
      socket.destroy();
    }
  }

  private onReadable(socket: Socket, w: Waiting): void {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) w.chunks.push(chunk);
    const buf = w.chunks.length === 1 ? w.chunks[0]! : Buffer.concat(w.chunks);
    w.chunks = [buf];
    const missing = firstRecordMissing(buf);
    if (missing < 0) return this.drop(socket, TlsRefusal.NOT_TLS);
    if (missing > 0) return;
    this.forget(socket);
    socket.unshift(buf);
    this.pass(socket);
  }

  private drop(socket: Socket, reason: TlsRefusal): void {
    if (!this.forget(socket)) return;
    this.refuse(socket, reason);
    socket.destroy();
  }

  /** Stops watching the connection; false when it was not waiting. */
  private forget(socket: Socket): boolean {
    const w = this.waiting.get(socket);
    if (w === undefined) return false;
    this.waiting.delete(socket);
    clearTimeout(w.timer);
    socket.off('readable', w.onReadable);
    socket.off('error', onError);
    // a passed connection lives on (an agent session: hours): nothing of its wait may stay on it,
    // or every session keeps the closure, the cleared timer and its ClientHello's buffer (~0.7 KiB)
    socket.off('close', w.onClose);
    w.chunks = [];
    return true;
  }
}

function onError(this: Socket): void {
  this.destroy(); // a reset while waiting: its 'close' forgets it
}
