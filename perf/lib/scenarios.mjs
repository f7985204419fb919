// The scenarios. Each run(ctx) gets { started: { endpoint, procs }, sizes, chain, progress } and
// returns flat metrics (numbers; undefined when not applicable). Metric specs drive the tables.
import { spawnProc } from './procs.mjs';
import { churnOnce, connectTo, echoStream, jain, median, openStalled, percentile, readFor, readInBackground } from './client.mjs';
import { header, MODE } from './sink.mjs';
import { LIB } from './chains/util.mjs';
import { census, diffCensus } from './heap-census.mjs';
import { reqsScenario } from './reqs.mjs';
import { reconnectScenario } from './reconnect.mjs';

/** @typedef {import('./chains/index.mjs').Chain} Chain */
/** @typedef {import('./chains/index.mjs').Started} Started */
/** @typedef {import('./chains/util.mjs').ProcEntry} ProcEntry */
/** @typedef {import('./client.mjs').Endpoint} Endpoint */
/**
 * The run's sizes (bench.mjs: full, --quick, --tiny): durations in ms, counts, the link's rate in B/s.
 * @typedef {{ warmMs: number, durMs: number, fillMs: number, settleMs: number, multi16: number, multi256: number,
 *   rttSamples: number, rttWarm: number, churnMs: number, churnConcurrency: number, idleStreams: number,
 *   agentSessions: number, compressMs: number, latencyMs: number, linkRate: number, compressDelayMs: number,
 *   pairedRounds: number, pairedMs: number, pairedPings: number, reqCallers: number, reqWarmMs: number,
 *   reqDurMs: number, reqRounds: number, scrapeNodes: number, scrapeRates: number[], scrapeStepMs: number,
 *   scrapeCallerIdleMs?: number, reconnectCuts: number, reconnectPeriodMs: number }} Sizes
 */
/**
 * A column of a scenario's table: `better` is 'higher' | 'lower' (absent for a text column); the `primary` one is charted and ratioed.
 * @typedef {{ key: string, label: string, better?: string, primary?: boolean, digits?: number }} Metric
 */
/**
 * One chain's result in a scenario: its metrics by key (numbers, undefined when not applicable), or
 * `error`; beside them whatever the scenario keeps (a series, per-process figures, a census, reqs'
 * cases), different per scenario, so the values are left untyped.
 * @typedef {{ error?: string, firstError?: string } & Record<string, any>} Row
 */
/** A scenario in the results: its title, columns and a row per chain. @typedef {{ title: string, metrics: Metric[], rows: Record<string, Row> }} ScenarioResult */
/** @typedef {(text: string) => void} Progress */
/**
 * What a scenario's run gets: the started chain, the sizes, the chain, the progress line, the
 * snapshot directory (--snapshots), the run's env and the names of the chains this run measures.
 * @typedef {{ started: Started, sizes: Sizes, chain: Chain, progress: Progress, snapshots?: string, env: import('./chains/index.mjs').Env, chainNames?: string[] }} ScenarioCtx
 */

const MB = 1e6;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * run fn over items with at most `limit` in flight
 * @template T, R
 * @param {T[]} items @param {number} limit @param {(item: T, i: number) => Promise<R>} fn
 * @returns {Promise<R[]>}
 */
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const range = (/** @type {number} */ n) => Array.from({ length: n }, (_, i) => i);

/** @param {Endpoint} endpoint @param {{ warmMs: number, durMs: number }} sizes */
async function bulkMBps(endpoint, sizes, mode = MODE.source) {
  const r = await readFor(await connectTo(endpoint), { durationMs: sizes.warmMs + sizes.durMs, sampleMs: 50, mode });
  // bytes after the warm-up ÷ the real time they took (sample timers run late under load)
  const i = r.times.findIndex((t) => t >= sizes.warmMs);
  if (i < 0 || i === r.times.length - 1) return r.total / (r.elapsedMs / 1000) / MB;
  const bytes = r.samples.slice(i + 1).reduce((a, b) => a + b, 0);
  return bytes / ((r.times.at(-1) - r.times[i]) / 1000) / MB;
}

/** @param {ScenarioCtx} ctx @param {number} n */
async function concurrent({ started, sizes }, n) {
  const sockets = await pool(range(n), 32, () => connectTo(started.endpoint));
  const readers = sockets.map((s) => readInBackground(s));
  await sleep(sizes.warmMs);
  for (const r of readers) r.mark();
  await sleep(sizes.durMs);
  const marks = readers.map((r) => r.mark());
  for (const r of readers) r.stop();
  const bytes = marks.map((m) => m.bytes);
  const secs = marks[0].ms / 1000;
  const sum = bytes.reduce((a, b) => a + b, 0);
  return { mbps: sum / secs / MB, minOverMax: Math.min(...bytes) / Math.max(...bytes), jain: jain(bytes), starved: bytes.filter((b) => b === 0).length };
}

/**
 * `warm` pings, then `n` measured. A Node chain's ping path reaches its steady round trip only after a
 * few thousand pings (the JIT tiers of four processes: ~0.6 → ~0.15 ms for edge-tunnel and 0.35 → 0.15
 * for the floor over the first 4 000 on this machine, perf/findings/2026-11-26-rtt-jit-warmup.md), which a tunnel that
 * runs for days pays once: the measured samples are the steady state, the first 500 of the warm-up
 * are reported apart as `coldP50`.
 * @param {Endpoint} endpoint @param {number} n @param {number} warm
 */
async function rttSamples(endpoint, n, warm) {
  const echo = await echoStream(await connectTo(endpoint));
  const msg = Buffer.alloc(64, 0x61);
  /** @type {number[]} */
  const cold = [];
  for (let i = 0; i < warm; i++) {
    const ms = await echo.rtt(msg);
    if (i < 500) cold.push(ms);
  }
  /** @type {number[]} */
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await echo.rtt(msg));
  echo.close();
  xs.sort((a, b) => a - b);
  cold.sort((a, b) => a - b);
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), coldP50: percentile(cold, 50) };
}

/** sum of heap (Node processes) / RSS / fds over the chain's measured processes; `snapshot(role)` → a path for a heap snapshot */
/** @param {ProcEntry[]} procs @param {(role: string) => string | undefined} [snapshot] */
async function probeChain(procs, snapshot = () => undefined) {
  /** @type {{ heap: number, rss: number, fds: number, heapKnown: boolean, each: Record<string, import('./procs.mjs').ProbeSample> }} */
  const out = { heap: 0, rss: 0, fds: 0, heapKnown: false, each: {} };
  for (const { role, proc, measured } of procs) {
    if (!measured) continue;
    const p = await proc.probe(true, snapshot(role));
    if (!p) continue;
    out.each[role] = p;
    if (p.heapUsed !== undefined) {
      out.heap += p.heapUsed;
      out.heapKnown = true;
    }
    out.rss += p.rss ?? 0;
    out.fds += p.fds ?? 0;
  }
  return out;
}

/**
 * A scenario: `chains` the only chains it runs on, `extraChains` chains of allChains' `extra` it adds,
 * `link` the link its chains are started with, `flatten` its rows as table rows (one per chain and case).
 * @typedef {{ id: string, title: string, metrics: Metric[], chains?: string[], extraChains?: string[],
 *   link?: (sizes: Sizes) => import('./chains/util.mjs').LinkSpec, run: (ctx: ScenarioCtx) => Promise<Row | { rowsByChain: Record<string, Row> }>,
 *   flatten?: (rows: Record<string, Row>, chains: import('./report.mjs').TableChain[]) => { rows: Record<string, Row>, chains: import('./report.mjs').TableChain[] } }} Scenario
 * @type {Scenario[]}
 */
export const SCENARIOS = [
  {
    id: 'bulk1',
    title: 'One bulk stream (sink → client, random bytes)',
    metrics: [{ key: 'mbps', label: 'MB/s', better: 'higher', primary: true }],
    async run({ started, sizes }) {
      return { mbps: await bulkMBps(started.endpoint, sizes) };
    },
  },
  ...[16, 256].map((n) => ({
    id: `multi${n}`,
    title: `${n} concurrent bulk streams`,
    metrics: [
      { key: 'mbps', label: 'aggregate MB/s', better: 'higher', primary: true },
      { key: 'minOverMax', label: 'min/max stream', better: 'higher', digits: 2 },
      { key: 'jain', label: 'Jain fairness', better: 'higher', digits: 3 },
      { key: 'starved', label: 'starved', better: 'lower', digits: 0 },
    ],
    run: (/** @type {ScenarioCtx} */ ctx) => concurrent(ctx, ctx.sizes[/** @type {'multi16' | 'multi256'} */ (`multi${n}`)]),
  })),
  {
    id: 'rtt',
    title: '64-byte request/response RTT, idle and next to a saturating stream',
    metrics: [
      { key: 'idleP50', label: 'idle p50 ms', better: 'lower', primary: true, digits: 3 },
      { key: 'idleP99', label: 'idle p99 ms', better: 'lower', digits: 3 },
      { key: 'loadedP50', label: 'loaded p50 ms', better: 'lower', digits: 3 },
      { key: 'loadedP99', label: 'loaded p99 ms', better: 'lower', digits: 3 },
      { key: 'addedP99', label: 'added p99 ms', better: 'lower', digits: 3 },
      { key: 'coldP50', label: 'cold p50 ms (first 500 pings)', better: 'lower', digits: 3 },
    ],
    async run({ started, sizes }) {
      const idle = await rttSamples(started.endpoint, sizes.rttSamples, sizes.rttWarm);
      // the saturating neighbour runs in its own process, so it does not share the pinger's event loop
      const loader = spawnProc('loader', `${LIB}/loader.mjs`, [JSON.stringify(started.endpoint)], { node: true });
      try {
        await loader.message();
        await sleep(sizes.warmMs);
        const loaded = await rttSamples(started.endpoint, sizes.rttSamples, 0);
        return { idleP50: idle.p50, idleP99: idle.p99, loadedP50: loaded.p50, loadedP99: loaded.p99, addedP99: loaded.p99 - idle.p99, coldP50: idle.coldP50 };
      } finally {
        await loader.stop();
      }
    },
  },
  {
    id: 'stalled',
    title: 'One stalled stream (reader stopped) next to a bulk stream',
    metrics: [
      { key: 'alone', label: 'bulk alone MB/s', better: 'higher' },
      { key: 'withStalled', label: 'bulk + stalled MB/s', better: 'higher' },
      { key: 'cost', label: 'cost %', better: 'lower', primary: true, digits: 1 },
    ],
    // alone, with, alone, with, alone, with, alone (half-length phases): each "with" is judged against
    // the two phases around it and the cost is the median of the three (one with-phase between two
    // alone ones swung 0–8 % from run to run on this machine; `direct`, with no tunnel, up to 34 %)
    async run({ started, sizes }) {
      const phase = { ...sizes, durMs: sizes.durMs / 2 };
      const alone = [await bulkMBps(started.endpoint, phase)];
      const withStalled = [];
      for (let i = 0; i < 3; i++) {
        const stalled = await openStalled(started.endpoint);
        await sleep(sizes.fillMs); // let it fill every window and buffer on the way
        withStalled.push(await bulkMBps(started.endpoint, phase));
        stalled.destroy();
        alone.push(await bulkMBps(started.endpoint, phase));
      }
      const costs = withStalled.map((w, i) => Math.max(0, (1 - w / ((alone[i] + alone[i + 1]) / 2)) * 100));
      const mean = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
      return { alone: mean(alone), withStalled: mean(withStalled), cost: median(costs) };
    },
  },
  {
    id: 'churn',
    title: 'Churn: open, 1 KiB each way, close',
    metrics: [
      { key: 'perSec', label: 'streams/s', better: 'higher', primary: true, digits: 0 },
      { key: 'errors', label: 'errors', better: 'lower', digits: 0 },
      { key: 'heapRatio', label: 'heap after/before', better: 'lower', digits: 3 },
      { key: 'fdDelta', label: 'fds after−before', better: 'lower', digits: 0 },
    ],
    async run({ started, sizes }) {
      const payload = Buffer.alloc(1024, 0x62);
      const burst = async (/** @type {number} */ ms) => {
        let done = 0;
        let errors = 0;
        /** @type {string | undefined} */
        let firstError;
        const until = performance.now() + ms;
        const t0 = performance.now();
        await Promise.all(
          range(sizes.churnConcurrency).map(async () => {
            while (performance.now() < until) {
              try {
                await churnOnce(started.endpoint, payload);
                done++;
              } catch (err) {
                errors++;
                firstError ??= err.message;
              }
            }
          }),
        );
        return { done, errors, firstError, secs: (performance.now() - t0) / 1000 };
      };
      await burst(sizes.warmMs); // JIT, pools and lazy state exist before the baseline
      await sleep(sizes.settleMs);
      const before = await probeChain(started.procs);
      const r = await burst(sizes.churnMs);
      await sleep(sizes.settleMs);
      const after = await probeChain(started.procs);
      return {
        perSec: r.done / r.secs,
        errors: r.errors,
        heapRatio: before.heapKnown ? after.heap / before.heap : undefined,
        fdDelta: started.procs.some((p) => p.measured) ? after.fds - before.fds : undefined,
        firstError: r.firstError,
      };
    },
  },
  {
    id: 'idle',
    title: 'Memory per idle stream',
    metrics: [
      { key: 'streams', label: 'streams open', better: 'higher', digits: 0 },
      { key: 'heapPerStream', label: 'heap B/stream (all procs)', better: 'lower', primary: true, digits: 0 },
      { key: 'maxHeapPerStream', label: 'heap B/stream (worst proc)', better: 'lower', digits: 0 },
      { key: 'rssPerStream', label: 'RSS B/stream', better: 'lower', digits: 0 },
    ],
    async run({ started, sizes, chain, snapshots }) {
      const snap = (/** @type {string} */ when) => (/** @type {string} */ role) =>
        snapshots ? `${snapshots}/idle-${chain.name}-${role}-${when}.heapsnapshot` : undefined;
      const before = await probeChain(started.procs, snap('before'));
      /** @type {import('node:net').Socket[]} */
      const sockets = [];
      /** @type {string | undefined} */
      let failed;
      const one = async () => {
        if (failed) return;
        try {
          const s = await connectTo(started.endpoint);
          s.on('error', () => {});
          sockets.push(s);
          const echo = new Promise((resolve, reject) => {
            s.once('data', resolve);
            s.once('end', () => reject(new Error('closed before the echo')));
            s.once('close', () => reject(new Error('closed before the echo')));
          });
          s.resume();
          s.write(Buffer.concat([header(MODE.echo), Buffer.from('x')]));
          await echo; // end to end: the sink holds this stream
        } catch (err) {
          failed ??= err.message;
        }
      };
      await pool(range(sizes.idleStreams), 64, one);
      const open = sockets.filter((s) => !s.destroyed).length;
      await sleep(sizes.settleMs);
      const after = await probeChain(started.procs, snap('after'));
      for (const s of sockets) s.destroy();
      const per = (/** @type {number} */ a, /** @type {number} */ b) => (open > 0 ? (a - b) / open : undefined);
      // processes with a heap figure before and after (one that missed a probe must not skew the sum)
      const roles = Object.keys(after.each).filter((r) => after.each[r].heapUsed !== undefined && before.each[r]?.heapUsed !== undefined);
      const heapOf = (/** @type {string} */ r) => per(after.each[r].heapUsed, before.each[r].heapUsed);
      const censusOf = (/** @type {string} */ r) => diffCensus(census(snap('before')(r)), census(snap('after')(r)), open, 15);
      return {
        streams: open,
        heapPerStream: roles.length ? roles.reduce((sum, r) => sum + heapOf(r), 0) : undefined,
        maxHeapPerStream: roles.length ? Math.max(...roles.map(heapOf)) : undefined,
        rssPerStream: started.procs.some((p) => p.measured) ? per(after.rss, before.rss) : undefined,
        perProcess: Object.fromEntries(roles.map((r) => [r, heapOf(r)])),
        rssPerProcess: Object.fromEntries(Object.keys(after.each).map((r) => [r, per(after.each[r].rss, before.each[r].rss)])),
        ...(snapshots && open > 0 ? { census: Object.fromEntries(roles.map((r) => [r, censusOf(r)])) } : {}),
        firstError: open < sizes.idleStreams ? failed : undefined,
      };
    },
  },
  {
    id: 'compress',
    title: 'Log-like text through a rate-limited link (100 Mbit/s)',
    link: (sizes) => ({ rate: sizes.linkRate, delayMs: sizes.compressDelayMs }),
    extraChains: ['sshCompressed'],
    metrics: [{ key: 'mbps', label: 'goodput MB/s', better: 'higher', primary: true }],
    async run({ started, sizes }) {
      return { mbps: await bulkMBps(started.endpoint, { ...sizes, durMs: sizes.compressMs }, MODE.logs) };
    },
  },
  {
    id: 'latency',
    title: 'One stream over a 50 ms RTT link (100 Mbit/s): ramp-up',
    link: (sizes) => ({ rate: sizes.linkRate, delayMs: 25 }),
    metrics: [
      { key: 'at2s', label: 'MB/s in 1–2 s', better: 'higher', primary: true },
      { key: 'steady', label: 'steady MB/s', better: 'higher' },
      { key: 't85', label: 's to 85% of own steady', better: 'lower', digits: 2 },
    ],
    async run({ started, sizes }) {
      const r = await readFor(await connectTo(started.endpoint), { durationMs: sizes.latencyMs, sampleMs: 100 });
      const mbps = r.samples.map((b, i) => b / ((r.times[i] - (i ? r.times[i - 1] : 0)) / 1000) / MB);
      const win = (/** @type {number} */ from, /** @type {number} */ to) => {
        const xs = mbps.slice(Math.round(from * 10), Math.round(to * 10));
        return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
      };
      const total = mbps.length / 10;
      const steady = win(total - 1, total);
      /** @type {number | undefined} */
      let t85;
      for (let i = 2; i < mbps.length; i++) {
        if ((mbps[i] + mbps[i - 1] + mbps[i - 2]) / 3 >= 0.85 * steady) {
          t85 = (i + 1) / 10;
          break;
        }
      }
      return { at2s: win(1, 2), steady, t85, series: mbps.map((x) => Math.round(x * 100) / 100) };
    },
  },
];

SCENARIOS.push(reqsScenario, reconnectScenario);

export { probeChain };
