// Paired phases: two chains started side by side and the same bulk load alternating between them,
// round by round (the order reversed every round), so a shared machine's drifts hit both alike. The
// ratio per round, then the median, is the measure for close calls: two chains measured minutes
// apart in a sequential run swing ±15 % on their own (perf/README.md, Finding 2).
import { connectTo, median, readInBackground } from './client.mjs';

const MB = 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `rounds` phases on each of `a` and `b` ({ name, endpoint }): `streams` bulk readers, `warmMs`, then
 * MB/s over `durMs` (`measure`: tests pass their own). Returns each chain's median MB/s and, on `a`,
 * the per-round ratios a ÷ b and their median.
 */
export async function pairedBulk(a, b, { rounds, streams = 1, warmMs, durMs, progress, measure = bulkPhase }) {
  const rates = new Map([[a.name, []], [b.name, []]]);
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 ? [b, a] : [a, b]) {
      progress?.(`paired · ${v.name} (round ${r + 1} of ${rounds})`);
      rates.get(v.name).push(await measure(v.endpoint, streams, warmMs, durMs));
    }
  }
  const ratios = rates.get(a.name).map((x, i) => x / rates.get(b.name)[i]);
  return {
    [a.name]: { mbps: median(rates.get(a.name)), ratio: median(ratios), ratios, rounds },
    [b.name]: { mbps: median(rates.get(b.name)), rounds },
  };
}

/** MB/s of `streams` bulk readers on `endpoint` over `durMs`, after `warmMs`. */
async function bulkPhase(endpoint, streams, warmMs, durMs) {
  const readers = (await Promise.all(Array.from({ length: streams }, () => connectTo(endpoint)))).map((s) => readInBackground(s));
  await sleep(warmMs);
  for (const r of readers) r.mark();
  await sleep(durMs);
  const marks = readers.map((r) => r.mark());
  for (const r of readers) r.stop();
  return marks.reduce((n, m) => n + m.bytes, 0) / MB / (marks[0].ms / 1000);
}
