// The load client: opens a stream through any chain (a TCP connection to the chain's entry, plus
// an HTTP CONNECT handshake when the entry is a CONNECT frontend) and drives the sink's modes.
import net from 'node:net';
import { header, MODE } from './sink.mjs';

/** Where a chain's client connects: a plain entry, or a CONNECT frontend (`connect`: 'host:port'). @typedef {{ host: string, port: number, connect?: string }} Endpoint */

/**
 * endpoint: { host, port, connect?: 'host:port' } — a plain entry, or a CONNECT frontend.
 * Resolves with a socket whose next bytes reach the sink.
 * @param {Endpoint} endpoint
 * @returns {Promise<net.Socket>}
 */
export function connectTo(endpoint, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => fail(new Error(`connect to ${endpoint.host}:${endpoint.port} timed out`)), timeoutMs);
    const fail = (/** @type {Error} */ err) => (clearTimeout(timer), socket.destroy(), reject(err));
    socket.once('error', fail);
    socket.once('connect', () => {
      if (!endpoint.connect) return done(socket);
      socket.write(`CONNECT ${endpoint.connect} HTTP/1.1\r\nHost: ${endpoint.connect}\r\n\r\n`);
      let head = Buffer.alloc(0);
      const onData = (/** @type {Buffer} */ chunk) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return head.length > 8192 ? fail(new Error('CONNECT: response head too long')) : undefined;
        socket.off('data', onData);
        socket.pause();
        const status = head.subarray(0, end).toString('latin1').split('\r\n')[0];
        if (!/^HTTP\/1\.[01] 200/.test(status))
          return fail(new Error(`CONNECT ${endpoint.connect}: ${status} ${head.subarray(end + 4, end + 200).toString()}`));
        const rest = head.subarray(end + 4);
        if (rest.length) socket.unshift(rest);
        done(socket);
      };
      socket.on('data', onData);
    });
    /** @param {net.Socket} s */
    function done(s) {
      clearTimeout(timer);
      s.off('error', fail);
      resolve(s);
    }
  });
}

/**
 * Reads a source stream ('S' random or 'L' log text) for durationMs; returns bytes per sample
 * window. The socket is destroyed at the end. `stall: true` opens it and never reads.
 * @param {net.Socket} socket
 * @param {{ durationMs: number, sampleMs?: number, mode?: string }} opts
 */
export async function readFor(socket, { durationMs, sampleMs = 100, mode = MODE.source }) {
  /** @type {number[]} */
  const samples = [];
  /** @type {number[]} */
  const times = []; // ms since start at the end of each sample (timers run late on a busy machine)
  let bytes = 0;
  let total = 0;
  socket.on('error', () => {});
  socket.on('data', (/** @type {Buffer} */ c) => {
    bytes += c.length;
    total += c.length;
  });
  socket.resume();
  socket.write(header(mode, 0));
  const t0 = performance.now();
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      samples.push(bytes);
      times.push(performance.now() - t0);
      bytes = 0;
      if (performance.now() - t0 >= durationMs) {
        clearInterval(tick);
        resolve();
      }
    }, sampleMs);
  });
  const elapsed = performance.now() - t0;
  socket.destroy();
  return { samples, times, total, elapsedMs: elapsed, sampleMs };
}

/**
 * Starts reading an endless source in the background; returns { stop() → {bytes, ms} }
 * @param {net.Socket} socket
 */
export function readInBackground(socket, mode = MODE.source) {
  let bytes = 0;
  let from = performance.now();
  socket.on('error', () => {});
  socket.on('data', (/** @type {Buffer} */ c) => (bytes += c.length));
  socket.resume();
  socket.write(header(mode, 0));
  return {
    /** bytes since the last mark */
    mark() {
      const r = { bytes, ms: performance.now() - from };
      bytes = 0;
      from = performance.now();
      return r;
    },
    stop() {
      socket.destroy();
    },
  };
}

/**
 * An echo stream for ping-pong: returns { rtt(size) → ms, close() }
 * @param {net.Socket} socket
 */
export async function echoStream(socket) {
  socket.on('error', () => {});
  socket.write(header(MODE.echo));
  let want = 0;
  let got = 0;
  /** @type {(() => void) | undefined} */
  let wake;
  socket.on('data', (/** @type {Buffer} */ c) => {
    got += c.length;
    if (got >= want && wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  });
  socket.resume();
  return {
    /** @param {Buffer} msg */
    async rtt(msg) {
      const t0 = performance.now();
      want += msg.length;
      /** @type {Promise<void>} */
      const p = new Promise((r) => (wake = r));
      socket.write(msg);
      if (got < want) await p;
      else wake = undefined;
      return performance.now() - t0;
    },
    close: () => socket.destroy(),
  };
}

/** open, 1 KiB each way, close (FIN both ways); resolves when the echo came back and the sink closed */
/** @param {Endpoint} endpoint @param {Buffer} payload */
export async function churnOnce(endpoint, payload) {
  const socket = await connectTo(endpoint);
  return new Promise((resolve, reject) => {
    let got = 0;
    socket.on('error', reject);
    socket.on('data', (/** @type {Buffer} */ c) => (got += c.length));
    socket.on('end', () => {
      socket.destroy();
      if (got === payload.length) resolve();
      else reject(new Error(`churn: echoed ${got} of ${payload.length} bytes`));
    });
    socket.resume();
    socket.write(header(MODE.echo));
    socket.end(payload);
  });
}

/** A source stream whose reader never reads: it fills every window and buffer on its way and stays stalled. */
/** @param {Endpoint} endpoint */
export async function openStalled(endpoint) {
  const socket = await connectTo(endpoint);
  socket.on('error', () => {});
  socket.pause();
  socket.write(header(MODE.source, 0));
  return socket;
}

/**
 * Median of numbers (the mean of the middle two for an even count).
 * @param {number[]} xs
 */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** @param {number[]} sorted ascending @param {number} p 0–100 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Jain's fairness index: 1 = perfectly fair, 1/n = one stream got everything
 * @param {number[]} xs
 */
export function jain(xs) {
  const s = xs.reduce((a, b) => a + b, 0);
  const s2 = xs.reduce((a, b) => a + b * b, 0);
  return s2 === 0 ? 0 : (s * s) / (xs.length * s2);
}
