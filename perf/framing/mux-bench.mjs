/* global gc -- node --expose-gc */
// Micro benchmark of the framing mux against raw TLS, over a real TLS loopback connection to a child
// process (so the two ends run on separate cores). Not a test: it prints a table against the targets
// and writes perf/results/framing-<date>.json.
//
//   (cd libs/framing && npx tsc -p tsconfig.build.json) && node perf/framing/mux-bench.mjs [--quick]
//
// The parent is the sending side (agent, TLS client, Session role 'client'); the child is the
// receiving side (TLS server, Session role 'server') and counts or echoes what arrives.
import { execFileSync, fork, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { report } from './mux-report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { Session } = /** @type {typeof import('@edge-tunnel/framing')} */ (await import(join(root, 'libs/framing/dist/index.js')));
/** @typedef {import('node:stream').Duplex} Duplex a TLS socket or a mux stream */
/** @typedef {{ p50: number, p99: number }} Quantiles */
/**
 * What the bench measured: raw TLS and the mux, bulk MB/s (`mux<n>MBps`, per-stream max/min `mux<n>MaxMin`
 * for n = 1, 16, 256), 64-byte messages/s and RTT ms, heap B per idle stream on each end.
 * @typedef {{ rawMBps: number, rawMsgPerSec: number, muxMsgPerSec: number, rawRtt: Quantiles, muxRtt: Quantiles,
 *   heapPerIdleStreamOpener: number, heapPerIdleStreamAcceptor: number } & Record<`mux${number}MBps` | `mux${number}MaxMin`, number>} MuxMetrics
 */
/** @typedef {{ quick: boolean, sizes: typeof SIZES, node: string, date: string, metrics: MuxMetrics, targets?: Record<string, boolean | string> }} MuxResults */
/** The child's IPC answers: its port once listening, `ok` to a mode, its heap and stream count to `heap`. @typedef {{ port?: number, ok?: boolean, heapUsed?: number, streams?: number }} ChildReply */

const MiB = 1024 * 1024;
const QUICK = process.argv.includes('--quick');
const SIZES = QUICK
  ? { bulk: 32 * MiB, multi: 32 * MiB, rttSamples: 300, messages: 20_000, idle: 1_000 }
  : { bulk: 256 * MiB, multi: 256 * MiB, rttSamples: 3_000, messages: 200_000, idle: 10_000 };
const INITIAL_WINDOW = 256 * 1024;
const IDLE_SESSION = { maxStreams: 20_000, receiveBudget: 20_001 * INITIAL_WINDOW };

// ---------------------------------------------------------------- entry: re-exec with --expose-gc
if (typeof globalThis.gc !== 'function') {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (process.argv.includes('--child')) await child();
else await parent();

// ---------------------------------------------------------------- child: the receiving side
async function child() {
  const key = readFileSync(process.env.BENCH_KEY);
  const cert = readFileSync(process.env.BENCH_CERT);
  let mode = 'raw-sink';
  /** @type {import('@edge-tunnel/framing').Session | undefined} */
  let current;
  const server = tls.createServer({ key, cert, allowHalfOpen: true }, (socket) => {
    socket.setNoDelay(true);
    if (mode === 'raw-sink') return rawSink(socket);
    if (mode === 'raw-echo') return socket.pipe(socket);
    current = new Session(socket, { role: 'server', ...(mode === 'mux-idle' ? IDLE_SESSION : {}) });
    current.on('error', () => {});
    current.on('stream', (s) => {
      s.on('error', () => {});
      s.accept();
      if (process.env.BENCH_DEBUG) s.once('end', () => console.error(`   [child] stream ${s.id} window ${s.window} received ${s.received}`));
      if (s.meta.kind === 'sink') rawSink(s);
      else if (s.meta.kind === 'echo') s.pipe(s);
    });
  });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
  process.on('message', (/** @type {{ cmd: 'mode' | 'heap' | 'exit', mode?: string }} */ msg) => {
    if (msg.cmd === 'mode') {
      mode = msg.mode;
      current?.destroy();
      current = undefined;
      process.send({ ok: true });
    } else if (msg.cmd === 'heap') {
      gc();
      gc();
      process.send({ heapUsed: process.memoryUsage().heapUsed, streams: current?.streams.size ?? 0 });
    } else if (msg.cmd === 'exit') {
      current?.destroy();
      server.close();
      process.exit(0);
    }
  });
  process.send({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port });
}

/**
 * Counts bytes until the peer's FIN, then answers with the count (8 bytes) and ends.
 * @param {Duplex} stream
 */
function rawSink(stream) {
  let n = 0;
  stream.on('data', (/** @type {Buffer} */ b) => (n += b.length));
  stream.on('end', () => {
    const reply = Buffer.alloc(8);
    reply.writeDoubleBE(n);
    stream.end(reply);
  });
}

// ---------------------------------------------------------------- parent: the sending side
async function parent() {
  const dir = mkdtempSync(join(tmpdir(), 'mux-bench-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const ca = readFileSync(join(dir, 'cert.pem'));
  const proc = fork(fileURLToPath(import.meta.url), ['--child'], {
    execArgv: [...new Set(['--expose-gc', ...process.execArgv])],
    env: { ...process.env, BENCH_KEY: join(dir, 'key.pem'), BENCH_CERT: join(dir, 'cert.pem') },
  });
  /** @param {{ cmd: string, mode?: string }} [msg] @returns {Promise<ChildReply>} */
  const ask = (msg) => new Promise((resolve) => (proc.once('message', resolve), msg && proc.send(msg)));
  const { port } = await ask();
  const setMode = (/** @type {string} */ mode) => ask({ cmd: 'mode', mode });
  /** @returns {Promise<tls.TLSSocket>} */
  const connect = () =>
    new Promise((resolve, reject) => {
      const s = tls.connect(
        /** @type {tls.ConnectionOptions} */ ({ host: '127.0.0.1', port, ca, allowHalfOpen: true }),
        () => (s.setNoDelay(true), resolve(s)),
      );
      s.once('error', reject);
    });
  const block = randomBytes(MiB);
  /** @type {MuxResults} */
  const results = { quick: QUICK, sizes: SIZES, node: process.version, date: new Date().toISOString(), metrics: /** @type {MuxMetrics} */ ({}) };
  const m = results.metrics;
  const log = (/** @type {unknown[]} */ ...a) => console.error('  ', ...a);

  // raw TLS bulk
  await setMode('raw-sink');
  m.rawMBps = await best(3, async () => {
    const sock = await connect();
    const t0 = performance.now();
    const reply = readReply(sock);
    await writeBulk(sock, SIZES.bulk, block, 1024 * 1024);
    await reply;
    sock.destroy();
    return mbps(SIZES.bulk, performance.now() - t0);
  });
  log(`raw TLS bulk ${m.rawMBps.toFixed(0)} MB/s`);

  // mux bulk with 1, 16, 256 streams
  await setMode('mux');
  for (const n of [1, 16, 256]) {
    const r = await bestBy(
      3,
      (x) => x.aggregate,
      async () => {
        const session = new Session(await connect(), { role: 'client' });
        await session.ready;
        const each = Math.floor(SIZES.multi / n);
        const t0 = performance.now();
        const times = await Promise.all(
          Array.from({ length: n }, async () => {
            const s = session.open({ host: '127.0.0.1', port: 1, kind: 'sink' });
            const reply = readReply(s);
            await writeBulk(s, each, block);
            const got = await reply;
            if (got !== each) throw new Error(`sink got ${got} of ${each}`);
            return performance.now() - t0;
          }),
        );
        const total = performance.now() - t0;
        session.destroy();
        const rates = times.map((ms) => mbps(each, ms));
        return { aggregate: mbps(each * n, total), maxMin: Math.max(...rates) / Math.min(...rates) };
      },
    );
    m[`mux${n}MBps`] = r.aggregate;
    m[`mux${n}MaxMin`] = r.maxMin;
    log(`mux ${n} stream(s) ${r.aggregate.toFixed(0)} MB/s, per-stream max/min ${r.maxMin.toFixed(2)}`);
  }

  // 64-byte messages: rate (one stream, echo) and RTT, raw TLS vs mux; the two connections are open
  // at the same time and measured in alternating batches, so that machine noise hits both alike
  const msg = Buffer.alloc(64, 0x61);
  await setMode('raw-echo');
  const sock = await connect();
  await rtt(sock, msg, 1); // the child has taken this connection as a raw echo
  await setMode('mux');
  const session = new Session(await connect(), { role: 'client' });
  await session.ready;
  const s = session.open({ host: '127.0.0.1', port: 1, kind: 'echo' });
  s.on('error', () => {});
  m.rawMsgPerSec = 0;
  m.muxMsgPerSec = 0;
  /** @type {number[]} */
  const rawTimes = [];
  /** @type {number[]} */
  const muxTimes = [];
  const batches = 10;
  for (let b = 0; b < batches; b++) {
    m.rawMsgPerSec = Math.max(m.rawMsgPerSec, await messageRate(sock, msg, SIZES.messages / batches));
    m.muxMsgPerSec = Math.max(m.muxMsgPerSec, await messageRate(s, msg, SIZES.messages / batches));
    rawTimes.push(...(await rtt(sock, msg, SIZES.rttSamples / batches)));
    muxTimes.push(...(await rtt(s, msg, SIZES.rttSamples / batches)));
  }
  m.rawRtt = quantiles(rawTimes);
  m.muxRtt = quantiles(muxTimes);
  sock.destroy();
  session.destroy();
  log(`64-byte messages/s raw ${m.rawMsgPerSec.toFixed(0)} mux ${m.muxMsgPerSec.toFixed(0)}`);
  log(`RTT p50 raw ${m.rawRtt.p50.toFixed(3)} ms mux ${m.muxRtt.p50.toFixed(3)} ms; p99 raw ${m.rawRtt.p99.toFixed(3)} mux ${m.muxRtt.p99.toFixed(3)}`);

  // heap per idle open stream
  await setMode('mux-idle');
  {
    const session = new Session(await connect(), { role: 'client', ...IDLE_SESSION });
    await session.ready;
    const held = [];
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const childBefore = await ask({ cmd: 'heap' });
    for (let i = 0; i < SIZES.idle; i++) held.push(session.open({ host: '127.0.0.1', port: 1, kind: 'idle' }));
    await Promise.all(held.map((s) => new Promise((r) => s.once('opened', r))));
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    const childAfter = await ask({ cmd: 'heap' });
    if (childAfter.streams !== SIZES.idle) throw new Error(`child holds ${childAfter.streams} streams, expected ${SIZES.idle}`);
    m.heapPerIdleStreamOpener = (after - before) / SIZES.idle;
    m.heapPerIdleStreamAcceptor = (childAfter.heapUsed - childBefore.heapUsed) / SIZES.idle;
    log(`heap per idle stream: opener ${m.heapPerIdleStreamOpener.toFixed(0)} B, acceptor ${m.heapPerIdleStreamAcceptor.toFixed(0)} B`);
    for (const s of held) s.on('error', () => {});
    session.destroy();
  }

  proc.send({ cmd: 'exit' });
  rmSync(dir, { recursive: true, force: true });
  report(results, { quick: QUICK, idle: SIZES.idle, outDir: join(root, 'perf', 'results') });
}

// ---------------------------------------------------------------- measurements
/** @param {number} bytes @param {number} ms */
function mbps(bytes, ms) {
  return bytes / 1e6 / (ms / 1000);
}

/** @param {number} runs @param {() => Promise<number>} fn */
async function best(runs, fn) {
  let top = -Infinity;
  for (let i = 0; i < runs; i++) top = Math.max(top, await fn());
  return top;
}

/** @template R @param {number} runs @param {(r: R) => number} key @param {() => Promise<R>} fn @returns {Promise<R>} */
async function bestBy(runs, key, fn) {
  /** @type {R | undefined} */
  let top;
  for (let i = 0; i < runs; i++) {
    const r = await fn();
    if (!top || key(r) > key(top)) top = r;
  }
  return top;
}

/**
 * Writes `total` bytes in 64 KiB chunks and ends. `buffer` > 0 keeps writing after write() returned
 * false until that many bytes are buffered (the raw TLS reference uses the same 1 MiB socket buffer
 * as the mux's writer, so that it is not handicapped by a 16 KiB highWaterMark).
 * @param {Duplex} stream @param {number} total @param {Buffer} block
 */
async function writeBulk(stream, total, block, buffer = 0) {
  const chunk = 64 * 1024;
  for (let sent = 0; sent < total;) {
    const at = sent % block.length;
    const n = Math.min(chunk, total - sent, block.length - at);
    sent += n;
    if (!stream.write(block.subarray(at, at + n)) && stream.writableLength >= buffer) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
}

/**
 * The 8-byte count a sink answers with.
 * @param {Duplex} stream @returns {Promise<number>}
 */
function readReply(stream) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const parts = [];
    stream.on('data', (/** @type {Buffer} */ b) => parts.push(b));
    stream.once('end', () => resolve(Buffer.concat(parts).readDoubleBE(0)));
    stream.once('error', reject);
  });
}

/**
 * Writes `count` messages as fast as backpressure allows; resolves with messages/s once all echoed back.
 * @param {Duplex} stream @param {Buffer} msg @param {number} count @returns {Promise<number>}
 */
function messageRate(stream, msg, count) {
  return new Promise((resolve) => {
    let back = 0;
    const want = count * msg.length;
    const t0 = performance.now();
    const onData = (/** @type {Buffer} */ b) => {
      back += b.length;
      if (back >= want) {
        stream.off('data', onData);
        resolve(count / ((performance.now() - t0) / 1000));
      }
    };
    stream.on('data', onData);
    let i = 0;
    /** @returns {void} */
    const pump = () => {
      while (i < count) {
        i += 1;
        if (!stream.write(msg)) return void stream.once('drain', pump);
      }
    };
    pump();
  });
}

/**
 * Ping-pong of one message at a time; the round-trip times in ms.
 * @param {Duplex} stream @param {Buffer} msg @param {number} samples
 */
async function rtt(stream, msg, samples) {
  /** @type {number[]} */
  const times = [];
  for (let i = 0; i < samples + 20; i++) {
    const t0 = performance.now();
    await /** @type {Promise<void>} */ (
      new Promise((resolve) => {
        let back = 0;
        const onData = (/** @type {Buffer} */ b) => {
          back += b.length;
          if (back >= msg.length) {
            stream.off('data', onData);
            resolve();
          }
        };
        stream.on('data', onData);
        stream.write(msg);
      })
    );
    if (i >= 20) times.push(performance.now() - t0); // the first 20 warm up
  }
  return times;
}

/** @param {number[]} times @returns {Quantiles} */
function quantiles(times) {
  times.sort((a, b) => a - b);
  const q = (/** @type {number} */ p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50: q(0.5), p99: q(0.99) };
}
