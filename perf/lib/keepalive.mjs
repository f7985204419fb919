// Keep-alive HTTP/1.1 callers for `reqs` and `scrape`: a caller is one connection (plain, through a
// CONNECT frontend, TLS, or TLS over CONNECT) that sends GET after GET and reads each response whole
// (Content-Length or chunked) before the next. A raw parser, not node:http, so the load client costs
// little CPU next to the chain it measures.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { connectTo, percentile } from './client.mjs';

/**
 * Where a keep-alive caller connects: an entry (a CONNECT frontend when `connect` names 'ip:port'),
 * TLS options when the caller speaks TLS, the Host header; `pids` the processes of its own (role → pid).
 * @typedef {{ host: string, port: number, connect?: string, hostHeader: string, tls?: tls.ConnectionOptions, pids?: Record<string, number> }} ReqTarget
 */
/** @typedef {{ status: number, bytes: number }} Response */
/** A keep-alive connection (openCaller). @typedef {InstanceType<typeof Caller>} KeepAliveConn */

/**
 * target: { host, port, connect?: 'ip:port' (a CONNECT frontend), tls?: { ca, cert?, key? },
 * hostHeader } → a connection ready for requests: `get(path)` resolves with { status, bytes, ms }.
 * @param {ReqTarget} target
 */
export async function openCaller(target, timeoutMs = 15_000) {
  const raw = await connectTo(target, timeoutMs);
  const socket = target.tls ? await secure(raw, target) : raw;
  return new Caller(socket, target.hostHeader);
}

/** @param {import('node:net').Socket} raw @param {ReqTarget} target @returns {Promise<tls.TLSSocket>} */
function secure(raw, target) {
  return new Promise((resolve, reject) => {
    // the certificate is checked against the address dialled: the CONNECT target's, else the entry's
    const host = target.connect ? target.connect.slice(0, target.connect.lastIndexOf(':')) : target.host;
    const s = tls.connect({ socket: raw, host, ...target.tls });
    s.once('secureConnect', () => (s.off('error', reject), resolve(s)));
    s.once('error', reject);
  });
}

class Caller {
  /** @param {import('node:net').Socket} socket @param {string} hostHeader */
  constructor(socket, hostHeader) {
    this.socket = socket;
    this.hostHeader = hostHeader;
    /** @type {Buffer} */
    this.buf = Buffer.alloc(0);
    /** @type {{ resolve: (r: Response) => void, reject: (err: Error) => void, head: { status: number, length: number | undefined, chunked: boolean, bytes: number } | undefined } | undefined} */
    this.waiter = undefined;
    /** @type {Error | undefined} */
    this.closed = undefined;
    socket.setNoDelay?.(true);
    socket.on('data', (/** @type {Buffer} */ c) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      this.parse();
    });
    const gone = (/** @type {Error | undefined} */ err = undefined) => {
      this.closed ??= err ?? new Error('connection closed');
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.closed);
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
    // the server closing an idle keep-alive connection (FIN): this connection is done
    socket.on('end', () => (gone(new Error('connection closed by the server')), socket.destroy()));
    socket.resume(); // connectTo leaves a CONNECT tunnel paused
  }

  /**
   * GET path; a response not complete within `timeoutMs` fails the request and closes the connection
   * @param {string} path
   * @returns {Promise<Response & { ms: number }>}
   */
  get(path, timeoutMs = 30_000) {
    if (this.closed) return Promise.reject(this.closed);
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.socket.destroy(new Error(`GET ${path}: no complete response within ${timeoutMs} ms`)), timeoutMs);
      /** @template T @param {(v: T) => void} fn @returns {(v: T) => void} */
      const settle = (fn) => (v) => (clearTimeout(timer), fn(v));
      this.waiter = { resolve: settle((/** @type {Response} */ r) => resolve({ ...r, ms: performance.now() - t0 })), reject: settle(reject), head: undefined };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nUser-Agent: edge-tunnel-perf\r\nAccept: */*\r\n\r\n`);
    });
  }

  parse() {
    const w = this.waiter;
    if (!w) return;
    if (!w.head) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end);
      this.buf = this.buf.subarray(end + 4);
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      w.head = { status, length: length ? Number(length[1]) : undefined, chunked: /\r\ntransfer-encoding:\s*chunked/i.test(head), bytes: 0 };
    }
    const h = w.head;
    if (h.length !== undefined) {
      if (this.buf.length < h.length) return;
      this.buf = this.buf.subarray(h.length);
      return this.done(h.status, h.length);
    }
    if (!h.chunked) return this.done(h.status, 0);
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const size = parseInt(this.buf.toString('latin1', 0, eol), 16);
      if (this.buf.length < eol + 2 + size + 2) return;
      this.buf = this.buf.subarray(eol + 2 + size + 2);
      if (size === 0) return this.done(h.status, h.bytes);
      h.bytes += size;
    }
  }

  /** @param {number} status @param {number} bytes */
  done(status, bytes) {
    const w = this.waiter;
    this.waiter = undefined;
    w.resolve({ status, bytes });
  }

  close() {
    this.socket.destroy();
  }
}

/**
 * CPU ms of a process so far (user + system, from /proc; 10 ms ticks).
 * @param {number} pid
 */
export function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * `callers` keep-alive connections to `target`, each requesting `path` back to back for `warmMs`
 * (not counted), then `durMs` (counted). `pids`: { role: pid } whose CPU is read around the counted
 * phase; this process is `client`. → { rps, p50, p99, errors, firstError, cpuPer1000: { role: ms } }
 * @param {ReqTarget} target
 * @param {{ callers: number, path: string, warmMs: number, durMs: number, pids?: Record<string, number>, expectBytes?: number }} opts
 */
export async function keepAliveLoad(target, { callers, path, warmMs, durMs, pids = {}, expectBytes }) {
  const conns = await Promise.all(Array.from({ length: callers }, () => openCaller(target)));
  let counting = false;
  let stop = false;
  /** @type {number[]} */
  const lat = [];
  let errors = 0;
  /** @type {string | undefined} */
  let firstError;
  const loop = async (/** @type {Caller} */ c) => {
    while (!stop) {
      try {
        const r = await c.get(path);
        if (r.status !== 200 || (expectBytes !== undefined && r.bytes !== expectBytes)) throw new Error(`GET ${path}: ${r.status}, ${r.bytes} bytes`);
        if (counting) lat.push(r.ms);
      } catch (err) {
        errors++;
        firstError ??= err.message;
        return;
      }
    }
  };
  const loops = conns.map(loop);
  await new Promise((r) => setTimeout(r, warmMs));
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, cpuMs(pid)]));
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  counting = true;
  await new Promise((r) => setTimeout(r, durMs));
  counting = false;
  const secs = (performance.now() - t0) / 1000;
  const n = lat.length;
  const cpuPer1000 = Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, n ? ((cpuMs(pid) - cpu0[role]) / n) * 1000 : NaN]));
  const cu = process.cpuUsage(client0);
  cpuPer1000.client = n ? ((cu.user + cu.system) / 1000 / n) * 1000 : NaN;
  stop = true;
  await Promise.all(loops);
  for (const c of conns) c.close();
  lat.sort((a, b) => a - b);
  return { rps: n / secs, p50: percentile(lat, 50), p99: percentile(lat, 99), requests: n, errors, firstError, cpuPer1000 };
}
