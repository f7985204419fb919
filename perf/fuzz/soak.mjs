#!/usr/bin/env node --expose-gc
// Long-running churn soak of the framing lib (libs/framing/dist) over real loopback TCP: a "server"
// Session opens short echo streams into an "agent" Session as fast as `--concurrency` allows, and
// every `--reconnect-every` streams the agent connection is torn down and dialled again. Prints
// streams/s, open fds, heap and active handles/timers over time; at the end, after a full GC,
// compares them with the baseline taken after warm-up. Exit 1 when fds or timers did not come back
// or the heap grew by more than `--heap-tolerance` (default 5 %).
//
//   node --expose-gc perf/fuzz/soak.mjs --minutes 30
//   node --expose-gc perf/fuzz/soak.mjs --streams 1000000 --reconnects 10000
import { createServer, connect } from 'node:net';
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../libs/framing/dist');
const { Session } = /** @type {typeof import('../../libs/framing/dist/session.js')} */ (await import(`${dist}/session.js`));

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string' },
    streams: { type: 'string' },
    reconnects: { type: 'string' },
    concurrency: { type: 'string', default: '64' },
    'reconnect-every': { type: 'string' },
    'heap-tolerance': { type: 'string', default: '0.05' },
    'report-ms': { type: 'string', default: '5000' },
  },
});
const MINUTES = args.minutes !== undefined ? Number(args.minutes) : undefined;
const STREAMS = args.streams !== undefined ? Number(args.streams) : MINUTES === undefined ? 100_000 : Infinity;
const RECONNECTS = args.reconnects !== undefined ? Number(args.reconnects) : undefined;
const RECONNECT_EVERY = Number(args['reconnect-every'] ?? (RECONNECTS && Number.isFinite(STREAMS) ? Math.max(1, Math.floor(STREAMS / RECONNECTS)) : 1000));
const CONCURRENCY = Number(args.concurrency);
const deadline = MINUTES !== undefined ? Date.now() + MINUTES * 60_000 : Infinity;
if (typeof globalThis.gc !== 'function') console.error('[soak] run with node --expose-gc for exact heap numbers');

const fds = () => readdirSync('/proc/self/fd').length;
const resources = () => {
  const info = process.getActiveResourcesInfo();
  return { handles: info.filter((x) => x !== 'Timeout' && x !== 'Immediate').length, timers: info.filter((x) => x === 'Timeout').length };
};
const settle = async () => {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc?.();
  }
};

// agent side: accepts every stream and echoes it
const listener = createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => {});
  const agent = new Session(socket, { role: 'client', hello: { nodeName: 'soak' } });
  agent.on('stream', (s) => {
    s.on('error', () => {});
    s.accept();
    s.pipe(s);
  });
  agent.on('close', () => socket.destroy());
});
await /** @type {Promise<void>} */ (new Promise((r) => listener.listen(0, '127.0.0.1', r)));
const port = /** @type {import('node:net').AddressInfo} */ (listener.address()).port;

/** @type {import('@edge-tunnel/framing').Session} */
let session;
let reconnects = 0;
async function dial() {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  session = new Session(socket, { role: 'server', hello: { serverId: 'soak' } });
  await session.ready;
}

const payload = Buffer.alloc(512, 7);
let done = 0;
let failed = 0;
/** @param {import('@edge-tunnel/framing').Session} s @returns {Promise<void>} */
function oneStream(s) {
  return new Promise((resolve) => {
    let got = 0;
    /** @type {import('@edge-tunnel/framing').Stream} */
    let st;
    try {
      st = s.open({ host: '127.0.0.1', port: 1 });
    } catch {
      failed += 1;
      return resolve();
    }
    st.on('data', (/** @type {Buffer} */ b) => (got += b.length));
    st.on('error', () => {
      failed += 1;
      resolve();
    });
    st.on('end', () => {
      if (got !== payload.length) failed += 1;
      done += 1;
      resolve();
    });
    st.end(payload);
  });
}

/** @param {number} total @param {number} startedAt @param {typeof report} report */
async function churn(total, startedAt, report) {
  let issued = 0;
  let sinceReconnect = 0;
  const worker = async () => {
    while (issued < total && Date.now() < deadline) {
      issued += 1;
      sinceReconnect += 1;
      if (sinceReconnect >= RECONNECT_EVERY && (RECONNECTS === undefined || reconnects < RECONNECTS)) {
        sinceReconnect = 0;
        reconnects += 1;
        const old = session;
        await dial();
        void old.close(1_000);
      }
      await oneStream(session);
      if (Date.now() - report.last >= report.every) report.print(startedAt);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const report = {
  last: Date.now(),
  every: Number(args['report-ms']),
  /** @param {number} startedAt */
  print(startedAt) {
    this.last = Date.now();
    const m = process.memoryUsage();
    const rate = Math.round(done / ((Date.now() - startedAt) / 1000));
    const res = resources();
    console.log(
      JSON.stringify({
        t: Math.round((Date.now() - startedAt) / 1000),
        streams: done,
        streamsPerSecond: rate,
        failed,
        reconnects,
        fds: fds(),
        heapMiB: +(m.heapUsed / 1048576).toFixed(1),
        rssMiB: +(m.rss / 1048576).toFixed(1),
        ...res,
      }),
    );
  },
};

await dial();
// warm-up, then the baseline
await churn(20_000, Date.now(), report);
await settle();
const base = { fds: fds(), heap: process.memoryUsage().heapUsed, ...resources() };
console.log(JSON.stringify({ baseline: { fds: base.fds, heapMiB: +(base.heap / 1048576).toFixed(2), handles: base.handles, timers: base.timers } }));
done = 0;
const startedAt = Date.now();
await churn(STREAMS, startedAt, report);
const seconds = (Date.now() - startedAt) / 1000;
// let closing sessions finish, then measure
await new Promise((r) => setTimeout(r, 1_500));
await settle();
const end = { fds: fds(), heap: process.memoryUsage().heapUsed, ...resources() };
const heapGrowth = (end.heap - base.heap) / base.heap;
const summary = {
  streams: done,
  failed,
  reconnects,
  seconds: Math.round(seconds),
  streamsPerSecond: Math.round(done / seconds),
  fds: { baseline: base.fds, end: end.fds },
  timers: { baseline: base.timers, end: end.timers },
  handles: { baseline: base.handles, end: end.handles },
  heapMiB: { baseline: +(base.heap / 1048576).toFixed(2), end: +(end.heap / 1048576).toFixed(2), growthPct: +(heapGrowth * 100).toFixed(2) },
  openStreamsLeft: session.streams.size,
};
console.log(JSON.stringify({ summary }, null, 2));
const ok = failed === 0 && end.fds <= base.fds && end.timers <= base.timers && heapGrowth <= Number(args['heap-tolerance']) && session.streams.size === 0;
session.destroy();
listener.close();
process.exitCode = ok ? 0 : 1;
setTimeout(() => process.exit(), 100).unref();
