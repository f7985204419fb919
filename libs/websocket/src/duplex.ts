// A byte-stream Duplex over a WebSocket: what one side writes arrives on the other in order, in
// binary messages whose boundaries mean nothing (the framing decoder reads a byte stream). Writes of
// one corked batch leave as few messages as MAX_SEND_BYTES allows (on the agent gathered in one reused
// buffer, since ws copies what a client sends as it masks it); reads pause the WebSocket's
// socket while the reader is behind, so TCP backpressure holds the peer. The peer's close frame
// ends (or fails) the stream at once, not when ws's closing handshake is over (see onPeerClose).
import type { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import { CLOSE_REFUSED, MAX_SEND_BYTES, PROOF_REFUSED } from './constants.js';

export interface DuplexOptions {
  /**
   * The WebSocket is a client's whose every mask is non-zero (`generateMask: nonZeroMask`): ws then
   * masks each message into a buffer of its own before `send` returns, so a batch is gathered into
   * one reused buffer instead of a new one per message (no allocation, no garbage per message).
   * Only with no extension negotiated: with permessage-deflate ws queues the message uncopied.
   */
  masksEveryMessage?: boolean;
}

export class WebSocketDuplex extends Duplex {
  /** the reused buffer batches are gathered into (masksEveryMessage), grown on demand up to MAX_SEND_BYTES */
  private scratch: Buffer | undefined;
  /** the WebSocket's close (the peer's frame, or ws's 'close') was taken: the end is decided */
  private closeTaken = false;

  constructor(
    private readonly ws: WebSocket,
    opts: DuplexOptions = {},
  ) {
    super({ allowHalfOpen: false });
    if (opts.masksEveryMessage && ws.extensions === '') this.scratch = Buffer.allocUnsafeSlow(0);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString()));
    // ws emits 'close' only once its closing handshake is over: after the peer's close frame it sends
    // its own and waits for the peer to close TCP, up to closeTimeout (30 s). A peer that no longer
    // reads (its socket backpressured, our close frame queued behind our bytes) held a clean close
    // 1000 that long before the reader saw it. ws has no public event for the frame; its receiver's
    // 'conclude' is it (test/duplex-close.test.ts fails if a ws upgrade changes that).
    (ws as unknown as { _receiver?: EventEmitter })._receiver?.once('conclude', (code: number, reason: Buffer) => this.onClose(code, reason.toString()));
    ws.on('error', (err: Error) => this.destroy(err));
  }

  /** The remote address of the WebSocket's TCP connection. */
  get remoteAddress(): string | undefined {
    return (this.ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress;
  }

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.send(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.ws.close(1000, 'end');
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      if (err) this.ws.terminate();
      else this.ws.close(1000, 'closed');
    }
    cb(err);
  }

  /**
   * Sends `chunks` as the fewest messages of ≤ MAX_SEND_BYTES; a message of several chunks is gathered
   * into the reused buffer (masksEveryMessage: ws copies it as it masks) or into a new one (ws keeps it
   * until its socket wrote it).
   */
  private send(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (chunks.length === 0) return cb();
    let i = 0;
    while (i < chunks.length) {
      let size = chunks[i]!.length;
      let end = i + 1;
      while (end < chunks.length && size + chunks[end]!.length <= MAX_SEND_BYTES) size += chunks[end++]!.length;
      const message = end - i === 1 ? chunks[i]! : this.gather(chunks, i, end, size);
      this.ws.send(message, { binary: true }, end === chunks.length ? (err) => cb(err ?? null) : undefined);
      i = end;
    }
  }

  private gather(chunks: Buffer[], from: number, end: number, size: number): Buffer {
    let target: Buffer;
    if (this.scratch) {
      if (this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(Math.max(size, Math.min(MAX_SEND_BYTES, 2 * this.scratch.length)));
      target = this.scratch.subarray(0, size);
    } else target = Buffer.allocUnsafe(size);
    let at = 0;
    for (let k = from; k < end; k++) at += chunks[k]!.copy(target, at);
    return target;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (!isBinary) {
      this.destroy(new Error('a text message inside the session (only binary messages carry frames)'));
      return;
    }
    const chunks = Array.isArray(data) ? data : [Buffer.isBuffer(data) ? data : Buffer.from(data)];
    let more = true;
    for (const c of chunks) more = this.push(c);
    if (!more) this.ws.pause();
  }

  private onClose(code: number, reason: string): void {
    if (this.closeTaken) return;
    this.closeTaken = true;
    if (code === 1000 || code === 1005) this.push(null);
    else if (code === CLOSE_REFUSED) this.destroy(Object.assign(new Error(`the server refused our certificate proof: ${reason}`), { code: PROOF_REFUSED }));
    else this.destroy(Object.assign(new Error(`websocket closed: ${code}${reason ? ` ${reason}` : ''}`), { code: 'ECONNRESET' }));
  }
}
