// The sink: one TCP listener whose mode is chosen by the first 9 bytes a stream sends:
// a mode byte and a u64 BE argument.
//   'S' n  source: send n random (incompressible) bytes, then FIN (n = 0: until the peer goes)
//   'L' n  source of log-like text (compressible), same rules
//   'E' _  echo everything back, FIN after the peer's FIN
//   'D' _  discard; after the peer's FIN answer the byte count as u64 BE, then FIN
// Run as a child: `node sink.mjs <host>` → IPC {port}.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export const HEADER = 9;
export const MODE = { source: 'S', logs: 'L', echo: 'E', discard: 'D' };

/**
 * the 9-byte header of a stream
 * @param {string} mode one of MODE
 */
export function header(mode, n = 0) {
  const b = Buffer.alloc(HEADER);
  b.write(mode, 0, 'latin1');
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

const POOL = 1 << 20;
const CHUNK = 64 * 1024;

/** log-like text: timestamps, levels, repeated keys, varying numbers (LZ4 gets ~3-6x on it) */
/** @param {number} size */
export function logText(size) {
  const levels = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN'];
  const msgs = ['request completed', 'pulling image', 'sync loop', 'probe succeeded', 'volume mounted'];
  let out = '';
  let i = 0;
  let t = Date.UTC(2026, 0, 1);
  while (out.length < size) {
    t += (i * 7919) % 1000;
    const r = (i * 2654435761) >>> 0;
    out += `${new Date(t).toISOString()} ${levels[r % 5]} kubelet[${1000 + (r % 50)}]: ${msgs[(r >>> 3) % 5]} pod="default/web-${r % 97}" ns=default durationMs=${r % 5000} status=${200 + (r % 3)} traceId=${(r % 65536).toString(16)}\n`;
    i++;
  }
  return Buffer.from(out.slice(0, size));
}

/** @returns {Promise<net.Server>} */
export function startSink(host = '127.0.0.1', port = 0) {
  const pools = { S: randomBytes(POOL), L: logText(POOL) };
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => serve(socket, pools));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => resolve(server));
  });
}

/** @param {net.Socket} socket @param {{ S: Buffer, L: Buffer }} pools */
function serve(socket, pools) {
  socket.on('error', () => socket.destroy());
  let head = Buffer.alloc(0);
  const onData = (/** @type {Buffer} */ chunk) => {
    head = Buffer.concat([head, chunk]);
    if (head.length < HEADER) return;
    socket.off('data', onData);
    const mode = String.fromCharCode(head[0]);
    const n = Number(head.readBigUInt64BE(1));
    const rest = head.subarray(HEADER);
    if (mode === 'S' || mode === 'L') return source(socket, pools[mode], n);
    if (mode === 'E') {
      if (rest.length) socket.write(rest);
      socket.pipe(socket);
      return;
    }
    if (mode === 'D') {
      let count = rest.length;
      socket.on('data', (/** @type {Buffer} */ c) => (count += c.length));
      socket.on('end', () => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(count));
        socket.end(b);
      });
      return;
    }
    socket.destroy();
  };
  socket.on('data', onData);
}

/** @param {net.Socket} socket @param {Buffer} pool @param {number} n */
function source(socket, pool, n) {
  let sent = 0;
  let off = 0;
  socket.on('data', () => {}); // the peer's FIN must be read for 'end'
  socket.on('end', () => socket.destroyed || socket.end());
  const pump = () => {
    while (!socket.destroyed && (n === 0 || sent < n)) {
      let len = Math.min(CHUNK, pool.length - off);
      if (n !== 0) len = Math.min(len, n - sent);
      const chunk = pool.subarray(off, off + len);
      off = (off + len) % pool.length;
      sent += len;
      if (!socket.write(chunk)) return socket.once('drain', pump);
    }
    if (n !== 0 && !socket.destroyed) socket.end();
  };
  pump();
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()) && process.send) {
  const server = await startSink(process.argv[2] ?? '127.0.0.1');
  process.send({ port: /** @type {net.AddressInfo} */ (server.address()).port });
}
