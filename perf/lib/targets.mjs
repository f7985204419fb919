// The targets, evaluated on one run's numbers (ratios within the run). Where a target has
// a floor — the same measure taken on `floor` (perf/lib/floor-mux.mjs, the least a Node mux does)
// or on `direct` (no tunnel at all) in the same run — the floor's value is kept beside it: a target
// the floor misses too is out of reach for any Node tunnel on this machine (`reachable: false`).
import { reqsCase, SIZES } from './reqs.mjs';
import { ENTRY_CHAINS, PASSTHROUGH_CHAIN } from './chains/edge-tunnel.mjs';
import { TARGET_RATE } from './scrape.mjs';
export const ET = 'edge-tunnel';
export const ETZ = 'edge-tunnel+lz4';
export const FLOOR = 'floor';
/** the paired scenario of compression's cost on random bytes (bench.mjs lz4Cost) */
export const LZ4_COST = 'lz4cost';
/** the paired scenario of the idle RTT (bench.mjs rttPaired) */
export const RTT_PAIRED = 'rttpaired';

/**
 * A target's verdict: the subject's value, the goal as text, met (undefined without a value), and the
 * floor's value and whether it meets the goal (when the target has a floor).
 * @typedef {{ name: string, value: number, goal: string, met: boolean | undefined, floor?: number, reachable?: boolean }} Target
 */

/**
 * @param {{ scenarios: Record<string, { rows?: Record<string, import('./scenarios.mjs').Row> }> }} res the run's results (bench.mjs): only the rows are read
 * @returns {Target[]}
 */
export function evaluateTargets(res) {
  const s = res.scenarios;
  const v = (/** @type {string} */ sc, /** @type {string} */ chain, /** @type {string} */ key) => s[sc]?.rows?.[chain]?.[key];
  /** @type {Target[]} */
  const out = [];
  /**
   * check(x) → met; floor: the same measure on the floor chain (undefined when it has none)
   * @param {string} name @param {number} value @param {string} goal @param {(x: number) => boolean} check @param {number} [floor]
   */
  const add = (name, value, goal, check, floor) => {
    const t = { name, value, goal, met: Number.isFinite(value) ? check(value) : undefined };
    if (Number.isFinite(floor)) Object.assign(t, { floor, reachable: check(floor) });
    out.push(t);
  };
  for (const sc of ['bulk1', 'multi16', 'multi256']) {
    const best = Math.max(...['tls-relay', 'openssh'].map((c) => v(sc, c, 'mbps')).filter(Number.isFinite));
    const h2 = v(sc, 'h2', 'mbps');
    const ratio = (/** @type {string} */ chain, /** @type {number} */ to) => v(sc, chain, 'mbps') / to;
    add(`${sc}: ÷ best of {TLS relay, OpenSSH}`, ratio(ET, best), '≥ 1.0', (x) => x >= 1.0, ratio(FLOOR, best));
    add(`${sc}: ÷ Node HTTP/2`, ratio(ET, h2), '≥ 1.5', (x) => x >= 1.5, ratio(FLOOR, h2));
    add(`${sc}: ÷ JS yamux`, ratio(ET, v(sc, 'yamux', 'mbps')), '≥ 2', (x) => x >= 2);
  }
  // paired rounds when the run has them, else the sequential scenario's p50s (one method for both values)
  const rttPaired = Number.isFinite(v(RTT_PAIRED, ET, 'ratio'));
  const rttRatio = (/** @type {string} */ chain) => (rttPaired ? v(RTT_PAIRED, chain, 'ratio') : v('rtt', chain, 'idleP50') / v('rtt', 'openssh', 'idleP50'));
  add(`RTT p50 ÷ OpenSSH${rttPaired ? ' (paired rounds)' : ''}`, rttRatio(ET), '≤ 1.0', (x) => x <= 1.0, rttRatio(FLOOR));
  // the machine's own share: a saturating process next to a ping-pong with no tunnel in between
  const quietest = Math.min(...['direct', FLOOR].map((c) => v('rtt', c, 'addedP99')).filter(Number.isFinite));
  add('saturating neighbour: added p99 (ms)', v('rtt', ET, 'addedP99'), '≤ 2', (x) => x <= 2, quietest);
  add('stalled stream: cost to the other (%)', v('stalled', ET, 'cost'), '< 5', (x) => x < 5);
  add('churn streams/s', v('churn', ET, 'perSec'), '≥ 5000', (x) => x >= 5000, v('churn', FLOOR, 'perSec'));
  // the per-stream cost against the least a Node mux does, in the same run (issue 14): the floor is the goal's unit
  const perFloor = (/** @type {string} */ sc, /** @type {string} */ key) => v(sc, ET, key) / v(sc, FLOOR, key);
  add('churn streams/s ÷ floor', perFloor('churn', 'perSec'), '≥ 0.9', (x) => x >= 0.9);
  add('multi16 aggregate MB/s ÷ floor', perFloor('multi16', 'mbps'), '≥ 0.9', (x) => x >= 0.9);
  add('churn heap after/before', v('churn', ET, 'heapRatio'), '≤ 1.05', (x) => x <= 1.05);
  add('churn fds after−before', v('churn', ET, 'fdDelta'), '≤ 0', (x) => x <= 0);
  add('heap per idle stream, worst process (B)', v('idle', ET, 'maxHeapPerStream'), '≤ 2048', (x) => x <= 2048, v('idle', FLOOR, 'maxHeapPerStream'));
  add('RSS per idle agent session (B)', s.sessions?.rows?.[ET]?.rssPerSession, '≤ 65536', (x) => x <= 65536);
  const z = v('compress', ETZ, 'mbps') / v('compress', ET, 'mbps');
  add('compressed ÷ uncompressed log goodput, 100 Mbit/s', z, '≥ 2.5', (x) => x >= 2.5);
  // paired phases when the run has them (a sequential run measures the two chains minutes apart)
  const paired = v(LZ4_COST, ETZ, 'ratio');
  const loss = 1 - (Number.isFinite(paired) ? paired : v('bulk1', ETZ, 'mbps') / v('bulk1', ET, 'mbps'));
  add(`compression on random bytes, loopback: loss${Number.isFinite(paired) ? ' (paired phases)' : ''}`, loss * 100, '≤ 5 %', (x) => x <= 5);
  const lat = v('latency', ET, 'at2s') / v('latency', 'tls-relay', 'steady');
  add('50 ms link: MB/s in 1–2 s ÷ TLS relay steady', lat, '≥ 0.85', (x) => x >= 0.85);
  // the seed's path against the CONNECT chain in the same run: :10264 against HTTP over CONNECT,
  // :10263 against the caller's own TLS over CONNECT (keep-alive both)
  const rq = (/** @type {string} */ chain, /** @type {string} */ kind, /** @type {string} */ size, /** @type {string} */ key) =>
    reqsCase(s.reqs?.rows?.[chain], kind, size)?.[key];
  for (const { size } of SIZES) {
    for (const [kind, listener, goal] of /** @type {['http' | 'https', string, number][]} */ ([
      ['http', ':10264', 0.9],
      ['https', ':10263', 0.8],
    ])) {
      const chain = ENTRY_CHAINS[kind];
      add(`reqs ${size}: ${listener} req/s ÷ CONNECT chain`, rq(chain, kind, size, 'rps') / rq(ET, kind, size, 'rps'), `≥ ${goal}`, (x) => x >= goal);
      add(`reqs ${size}: ${listener} p50 ÷ CONNECT chain`, rq(chain, kind, size, 'p50') / rq(ET, kind, size, 'p50'), '≤ 1.5', (x) => x <= 1.5);
    }
    // --https-mode=passthrough relays the caller's TLS as CONNECT does: it should cost what CONNECT costs
    if (s.reqs?.rows?.[PASSTHROUGH_CHAIN]) {
      add(
        `reqs ${size}: :10263 passthrough req/s ÷ CONNECT chain`,
        rq(PASSTHROUGH_CHAIN, 'https', size, 'rps') / rq(ET, 'https', size, 'rps'),
        '≥ 0.8',
        (x) => x >= 0.8,
      );
      add(
        `reqs ${size}: :10263 passthrough p50 ÷ CONNECT chain`,
        rq(PASSTHROUGH_CHAIN, 'https', size, 'p50') / rq(ET, 'https', size, 'p50'),
        '≤ 1.5',
        (x) => x <= 1.5,
      );
    }
  }
  // issue 18: the WebSocket transport against TLS in paired rounds, without a proxy and through tinyproxy
  for (const [chain, ref] of [
    ['edge-tunnel-ws', ET],
    ['edge-tunnel-ws-proxy', 'edge-tunnel-proxy'],
  ]) {
    const row = s.transports?.rows?.[chain];
    if (!row || row.error) continue;
    add(`${chain} ÷ ${ref}: 1 stream MB/s (paired)`, row.bulkRatio, '≥ 0.8', (x) => x >= 0.8);
    add(`${chain} ÷ ${ref}: 16 streams MB/s (paired)`, row.bulk16Ratio, '≥ 0.8', (x) => x >= 0.8);
    add(`${chain} ÷ ${ref}: RTT p50 (paired)`, row.rttRatio, '≤ 1.2', (x) => x <= 1.2);
  }
  const scrape = s.scrape?.rows?.[ET];
  if (scrape && !scrape.error) {
    const via = scrape.via === 'https' ? ':10263' : ':10264';
    add(
      `scrape: highest rate with p99 < 100 ms, ${scrape.nodes} nodes via ${via} (/s; 10 000 nodes / 15 s = 667)`,
      scrape.held,
      scrape.nodes >= 10_000 ? '≥ 667' : `≥ 667 (at ${scrape.nodes} nodes)`,
      (x) => x >= TARGET_RATE,
    );
  }
  return out;
}

/**
 * the verdict column: met, missed, or missed where even the floor misses
 * @param {Target} t
 */
export function verdict(t) {
  if (t.met === undefined) return 'n/a';
  if (t.met) return 'yes';
  return t.reachable === false ? '**no** — the floor misses it too: out of reach here' : '**no**';
}
