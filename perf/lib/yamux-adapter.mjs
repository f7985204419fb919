// @chainsafe/libp2p-yamux 8 (libp2p v3 MessageStream API) over a Node TLS socket, with each yamux
// stream exposed as a Node Duplex so the relays can pipe() it like any socket.
import { yamux } from '@chainsafe/libp2p-yamux';
import { logger } from '@libp2p/logger';
import { AbstractMessageStream } from '@libp2p/utils';
import { Duplex } from 'node:stream';

// libp2p v3 calls Promise.withResolvers (Node 22+); this is Node 20, so polyfill it here (perf only).
Promise.withResolvers ??= function withResolvers() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

/** @typedef {ReturnType<typeof muxerOver>} YamuxMuxer */
/** a yamux stream @typedef {Awaited<ReturnType<YamuxMuxer['createStream']>>} YamuxStream */

const MUXER = { maxInboundStreams: 20_000, maxOutboundStreams: 20_000, enableKeepAlive: false };

/** The TLS socket as the MessageStream a libp2p muxer runs over. */
class SocketMessageStream extends AbstractMessageStream {
  /** @param {import('node:net').Socket} socket @param {'inbound' | 'outbound'} direction */
  constructor(socket, direction) {
    super({ log: logger('perf:yamux:conn'), direction, maxReadBufferLength: Infinity });
    this.socket = socket;
    socket.on('data', (/** @type {Buffer} */ buf) => this.onData(buf));
    socket.on('drain', () => this.safeDispatchEvent('drain'));
    socket.on('end', () => this.onRemoteCloseWrite());
    socket.on('close', () => this.onTransportClosed());
    socket.on('error', () => {});
  }
  /** @param {Parameters<AbstractMessageStream['sendData']>[0]} list */
  sendData(list) {
    let ok = true;
    for (const buf of list) ok = this.socket.write(buf);
    return { sentBytes: list.byteLength, canSendMore: ok };
  }
  sendReset() {
    this.socket.destroy();
  }
  sendPause() {
    this.socket.pause();
  }
  sendResume() {
    this.socket.resume();
  }
  async close() {
    this.socket.end();
  }
}

/** @param {import('node:net').Socket} socket @param {'inbound' | 'outbound'} direction */
function muxerOver(socket, direction) {
  const conn = new SocketMessageStream(socket, direction);
  return yamux(MUXER)().createStreamMuxer(conn);
}

/**
 * A yamux stream as a Node Duplex (backpressure both ways, FIN ↔ closeWrite).
 * @param {YamuxStream} ys
 */
export function toDuplex(ys) {
  const d = new Duplex({
    allowHalfOpen: true,
    write(chunk, _enc, cb) {
      if (ys.send(chunk)) return cb();
      ys.onDrain().then(() => cb(), cb);
    },
    final(cb) {
      ys.close().then(() => cb(), cb);
    },
    read() {
      if (ys.readStatus === 'paused') ys.resume();
    },
    destroy(err, cb) {
      if (ys.status === 'open') ys.abort(err ?? new Error('destroyed'));
      cb(err);
    },
  });
  ys.addEventListener('message', (evt) => {
    const u8 = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray();
    if (!d.push(Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength))) ys.pause();
  });
  ys.addEventListener('remoteCloseWrite', () => d.push(null));
  ys.addEventListener('close', (evt) => {
    if (evt.error) d.destroy(evt.error);
    else if (!d.readableEnded) d.push(null);
  });
  return d;
}

/**
 * Client side: returns open() → Promise<Duplex>
 * @param {import('node:net').Socket} socket
 */
export function yamuxConnect(socket) {
  const muxer = muxerOver(socket, 'outbound');
  return async () => toDuplex(await muxer.createStream());
}

/**
 * Server side: every incoming stream as a Duplex
 * @param {import('node:net').Socket} socket @param {(d: Duplex) => void} onStream
 */
export function yamuxListen(socket, onStream) {
  const muxer = muxerOver(socket, 'inbound');
  muxer.addEventListener('stream', (evt) => onStream(toDuplex(evt.detail)));
  return muxer;
}
