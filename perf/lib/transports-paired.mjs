// The `transports` scenario (issue 18): edge-tunnel's TLS session next to the WebSocket transport,
// and both through tinyproxy, started side by side; per round (order reversed every round) one bulk
// stream, 16 bulk streams (aggregate and Jain fairness) on each chain, then the idle RTT in paired
// rounds (paired.mjs). Ratios are per round, then the median: WebSocket ÷ TLS without a proxy, and
// through the proxy; each through the proxy ÷ without.
import { connectTo, median, readInBackground } from './client.mjs';
import { alternate, pairedRtt } from './paired.mjs';
import { TRANSPORT_CHAINS } from './chains/edge-tunnel-transports.mjs';

export const TRANSPORTS_PAIRED = 'transports';
const ET = 'edge-tunnel';
const MB = 1e6;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** [chain, reference] pairs whose per-round ratios are reported on the chain's row */
export const TRANSPORT_PAIRS = [
  [TRANSPORT_CHAINS.ws, ET],
  [TRANSPORT_CHAINS.wsProxy, TRANSPORT_CHAINS.proxy],
  [TRANSPORT_CHAINS.proxy, ET],
];

export const transportsSpec = {
  title: 'Transports side by side: TLS and WebSocket sessions, without and through tinyproxy (alternating rounds)',
  metrics: [
    { key: 'mbps', label: '1 stream MB/s (median of rounds)', better: 'higher', primary: true },
    { key: 'bulkRatio', label: '1 stream ÷ reference', better: 'higher', digits: 2 },
    { key: 'mbps16', label: '16 streams MB/s', better: 'higher' },
    { key: 'bulk16Ratio', label: '16 streams ÷ reference', better: 'higher', digits: 2 },
    { key: 'jain16', label: '16 streams Jain fairness', better: 'higher', digits: 3 },
    { key: 'minOverMax16', label: '16 streams min/max', better: 'higher', digits: 2 },
    { key: 'p50', label: 'RTT p50 ms', better: 'lower', digits: 3 },
    { key: 'rttRatio', label: 'RTT p50 ÷ reference', better: 'lower', digits: 2 },
    { key: 'ref', label: 'reference' },
  ],
};

/**
 * `streams` bulk readers on `endpoint`: MB/s over `durMs` after `warmMs`, Jain index and min/max of the streams' bytes.
 * @param {import('./client.mjs').Endpoint} endpoint @param {number} streams @param {number} warmMs @param {number} durMs
 */
async function phase(endpoint, streams, warmMs, durMs) {
  const readers = (await Promise.all(Array.from({ length: streams }, () => connectTo(endpoint)))).map((s) => readInBackground(s));
  await sleep(warmMs);
  for (const r of readers) r.mark();
  await sleep(durMs);
  const marks = readers.map((r) => r.mark());
  for (const r of readers) r.stop();
  const xs = marks.map((m) => m.bytes);
  const sum = xs.reduce((a, b) => a + b, 0);
  const sq = xs.reduce((a, b) => a + b * b, 0);
  return {
    mbps: sum / MB / (marks[0].ms / 1000),
    jain: sq > 0 ? (sum * sum) / (xs.length * sq) : 0,
    minOverMax: Math.max(...xs) > 0 ? Math.min(...xs) / Math.max(...xs) : 0,
  };
}

/**
 * @param {import('./paired.mjs').Variant[]} started
 * @param {{ rounds: number, warmMs: number, durMs: number, pings: number, warm: number, progress?: import('./scenarios.mjs').Progress }} opts
 */
export async function pairedTransports(started, { rounds, warmMs, durMs, pings, warm, progress }) {
  const one = await alternate(started, rounds, 'transports · 1 stream', progress, (v) => phase(v.endpoint, 1, warmMs, durMs));
  const many = await alternate(started, rounds, 'transports · 16 streams', progress, (v) => phase(v.endpoint, 16, warmMs, durMs));
  const rtt = await pairedRtt(started, { rounds, pings, warm, ref: ET, progress });
  /** @type {Record<string, import('./scenarios.mjs').Row>} */
  const rows = {};
  for (const { name } of started) {
    rows[name] = {
      mbps: median(one.get(name).map((x) => x.mbps)),
      mbps16: median(many.get(name).map((x) => x.mbps)),
      jain16: median(many.get(name).map((x) => x.jain)),
      minOverMax16: median(many.get(name).map((x) => x.minOverMax)),
      p50: rtt[name]?.p50,
      rounds,
    };
  }
  for (const [name, ref] of TRANSPORT_PAIRS) {
    if (!rows[name] || !rows[ref]) continue;
    const per = (/** @type {typeof one} */ m, /** @type {'mbps' | 'jain' | 'minOverMax'} */ key) =>
      median(m.get(name).map((x, i) => x[key] / m.get(ref)[i][key]));
    const p = rtt[name].perRound;
    const q = rtt[ref].perRound;
    Object.assign(rows[name], { ref, bulkRatio: per(one, 'mbps'), bulk16Ratio: per(many, 'mbps'), rttRatio: median(p.map((x, i) => x / q[i])) });
  }
  return rows;
}
