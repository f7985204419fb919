// The WebSocket transport's own cost, in one process so that both variants share the machine's
// load alike: the same bytes written as 9-byte headers and 16 KiB pieces (the session's DATA frames), corked by four through (a) a TLS
// socket and (b) a WebSocketDuplex over wss:// (ws, bufferutil), in alternating rounds; CPU ms per
// MiB (both ends) and MB/s; (c) as (b) with the agent's sending side gathering each batch into one
// reused buffer (WebSocketDuplex masksEveryMessage, ws's generateMask: nonZeroMask). `node perf/ab/ws-cost.mjs [MiB=200] [rounds=4] [tls|websocket|ws-gather]`. Where the per-MiB CPU
// of (b) exceeds (a) is what the edge-tunnel-ws chain pays for WebSocket (framing on top is the same).
import { once } from 'node:events';
import https from 'node:https';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { WebSocketDuplex, nonZeroMask } from '@edge-tunnel/websocket';
import { makeCerts } from '../lib/certs.mjs';

const MIB = 1024 * 1024;
const total = Number(process.argv[2] ?? 200) * MIB;
const rounds = Number(process.argv[3] ?? 4);
const only = process.argv[4];
const certs = await makeCerts(mkdtempSync(join(tmpdir(), 'et-ws-cost-')), []);
const key = certs.server.keyPem;
const cert = certs.server.certPem;
const piece = Buffer.alloc(16 * 1024, 0x61);
/** a frame header before each piece, as the session's writer writes them (two writes per DATA frame) */
const head = Buffer.alloc(9, 0x01);

/** A connected pair: `w` writes, `r` reads what arrives. @typedef {{ w: import('node:stream').Writable, r: import('node:stream').Readable, close: () => void }} Pair */
/** @typedef {{ ms: number, cpuMs: number }} PumpResult */

/**
 * Writes `total` bytes into `w` (respecting backpressure) while `r` reads them; resolves with { ms, cpuMs }.
 * @param {Pair['w']} w @param {Pair['r']} r
 * @returns {Promise<PumpResult>}
 */
async function pump(w, r) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let got = 0;
  const want = total + (total / piece.length) * head.length;
  /** @type {Promise<void>} */
  const done = new Promise((resolve) =>
    r.on('data', (/** @type {Buffer} */ c) => {
      got += c.length;
      if (got >= want) resolve();
    }),
  );
  let sent = 0;
  while (sent < total) {
    w.cork();
    for (let i = 0; i < 4 && sent < total; i++, sent += piece.length) {
      w.write(head);
      w.write(piece);
    }
    process.nextTick(() => w.uncork());
    if (w.writableNeedDrain) await once(w, 'drain');
    else await new Promise((r) => setImmediate(r));
  }
  await done;
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

/** @returns {Promise<Pair>} */
async function tlsPair() {
  const server = tlsServer({ key, cert });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'secureConnection');
  const client = tlsConnect({
    port: /** @type {import('node:net').AddressInfo} */ (server.address()).port,
    host: '127.0.0.1',
    ca: certs.caPem,
    servername: 'localhost',
  });
  client.setNoDelay(true);
  await once(client, 'secureConnect');
  const [s] = await accepted;
  s.setNoDelay(true);
  return { w: client, r: s, close: () => (client.destroy(), s.destroy(), server.close()) };
}

/** @returns {Promise<Pair>} */
async function wsPair(gather = false) {
  const server = https.createServer({ key, cert });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(wss, 'connection');
  const ws = new WebSocket(`wss://localhost:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}/`, {
    ca: certs.caPem,
    perMessageDeflate: false,
    generateMask: nonZeroMask,
  });
  await once(ws, 'open');
  const [sws] = await accepted;
  const client = new WebSocketDuplex(ws, { masksEveryMessage: gather });
  const s = new WebSocketDuplex(sws);
  return { w: client, r: s, close: () => (client.destroy(), s.destroy(), server.closeAllConnections(), server.close()) };
}

/** @type {Record<string, PumpResult[]>} */
const out = { tls: [], websocket: [], 'ws-gather': [] };
for (let i = 0; i < rounds; i++) {
  /** @type {[string, () => Promise<Pair>][]} */
  const all = [
    ['tls', tlsPair],
    ['websocket', () => wsPair(false)],
    ['ws-gather', () => wsPair(true)],
  ];
  const order = i % 2 ? all.reverse() : all;
  for (const [name, make] of order) {
    if (only && name !== only) continue;
    const p = await make();
    out[name].push(await pump(p.w, p.r));
    p.close();
  }
}
const med = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = total / MIB;
for (const [name, rs] of Object.entries(out).filter(([, rs]) => rs.length > 0)) {
  console.log(
    `${name.padEnd(9)} CPU ms/MiB ${med(rs.map((r) => r.cpuMs / mib)).toFixed(2)}  MB/s ${med(rs.map((r) => total / 1e6 / (r.ms / 1000))).toFixed(1)}`,
  );
}
if (!only)
  for (const name of ['websocket', 'ws-gather'])
    console.log(`${name} ÷ tls CPU/MiB ${(med(out[name].map((r) => r.cpuMs)) / med(out.tls.map((r) => r.cpuMs))).toFixed(2)}`);
process.exit(0);
