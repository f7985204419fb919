// Paired phases: chains started side by side and the same load (bulk bytes, or a ping-pong)
// alternating between them, round by round (the order reversed every round), so a shared machine's
// drifts hit all alike. The ratio per round, then the median, is the measure for close calls: two
// chains measured minutes apart in a sequential run swing ±15 % on their own (perf/findings/2026-11-26-compression.md).
import { connectTo, echoStream, median, readInBackground } from './client.mjs';

/** A chain started for a paired scenario: its name and where the client dials. @typedef {{ name: string, endpoint: import('./client.mjs').Endpoint }} Variant */
/** @typedef {import('./scenarios.mjs').Progress} Progress */

const MB = 1e6;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `rounds` phases on each of `a` and `b` ({ name, endpoint }): `streams` bulk readers, `warmMs`, then
 * MB/s over `durMs` (`measure`: tests pass their own). Returns each chain's median MB/s and, on `a`,
 * the per-round ratios a ÷ b and their median.
 * @param {Variant} a @param {Variant} b
 * @param {{ rounds: number, streams?: number, warmMs: number, durMs: number, progress?: Progress, measure?: typeof bulkPhase }} opts
 */
export async function pairedBulk(a, b, { rounds, streams = 1, warmMs, durMs, progress, measure = bulkPhase }) {
  const rates = await alternate([a, b], rounds, 'paired', progress, (v) => measure(v.endpoint, streams, warmMs, durMs));
  const ratios = rates.get(a.name).map((x, i) => x / rates.get(b.name)[i]);
  return {
    [a.name]: { mbps: median(rates.get(a.name)), ratio: median(ratios), ratios, rounds },
    [b.name]: { mbps: median(rates.get(b.name)), rounds },
  };
}

/**
 * `measure(v)` on every variant, `rounds` times, the order reversed every round: Map name → values.
 * @template {{ name: string }} V
 * @template R
 * @param {V[]} variants @param {number} rounds @param {string} label @param {Progress | undefined} progress
 * @param {(v: V) => Promise<R>} measure
 */
export async function alternate(variants, rounds, label, progress, measure) {
  /** @type {Map<string, R[]>} */
  const values = new Map(variants.map((v) => /** @type {[string, R[]]} */ ([v.name, []])));
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 ? [...variants].reverse() : variants) {
      progress?.(`${label} · ${v.name} (round ${r + 1} of ${rounds})`);
      values.get(v.name).push(await measure(v));
    }
  }
  return values;
}

/**
 * MB/s of `streams` bulk readers on `endpoint` over `durMs`, after `warmMs`.
 * @param {import('./client.mjs').Endpoint} endpoint @param {number} streams @param {number} warmMs @param {number} durMs
 * @returns {Promise<number>}
 */
async function bulkPhase(endpoint, streams, warmMs, durMs) {
  const readers = (await Promise.all(Array.from({ length: streams }, () => connectTo(endpoint)))).map((s) => readInBackground(s));
  await sleep(warmMs);
  for (const r of readers) r.mark();
  await sleep(durMs);
  const marks = readers.map((r) => r.mark());
  for (const r of readers) r.stop();
  return marks.reduce((n, m) => n + m.bytes, 0) / MB / (marks[0].ms / 1000);
}

const PING = Buffer.alloc(64, 0x61);

/**
 * p50 ms of `n` 64-byte pings on `echo`
 * @param {Awaited<ReturnType<typeof echoStream>>} echo @param {number} n
 */
export async function pingP50(echo, n) {
  /** @type {number[]} */
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await echo.rtt(PING));
  return median(xs);
}

/**
 * 64-byte ping-pong on `variants` ({ name, endpoint }) in alternating rounds: each chain first warmed
 * with `warm` pings (a fresh chain's ping path takes thousands to reach its steady state, Finding 9),
 * then per round a fresh echo stream, 50 pings, and the p50 of `pings`. Returns each chain's median p50
 * and, against `ref` (a variant's name), the median of its per-round ratios.
 * @param {Variant[]} variants
 * @param {{ rounds: number, pings: number, warm: number, ref: string, progress?: Progress }} opts
 */
export async function pairedRtt(variants, { rounds, pings, warm, ref, progress }) {
  for (const v of variants) {
    progress?.(`paired rtt · warming ${v.name} (${warm} pings)`);
    const echo = await echoStream(await connectTo(v.endpoint));
    await pingP50(echo, warm);
    echo.close();
  }
  const p50s = await alternate(variants, rounds, 'paired rtt', progress, async (v) => {
    const echo = await echoStream(await connectTo(v.endpoint));
    await pingP50(echo, 50);
    const p50 = await pingP50(echo, pings);
    echo.close();
    return p50;
  });
  const base = p50s.get(ref);
  /** @type {Record<string, { p50: number, perRound: number[], ratio?: number }>} */
  const rows = {};
  for (const [name, xs] of p50s) {
    rows[name] = { p50: median(xs), perRound: xs };
    if (base && name !== ref) rows[name].ratio = median(xs.map((x, i) => x / base[i]));
  }
  return rows;
}
