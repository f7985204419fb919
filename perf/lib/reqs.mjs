// `reqs`: keep-alive request/response, as kube-apiserver, metrics-server and Prometheus use the
// tunnel. C callers, each one keep-alive connection sending GET after GET, small (64 B) and ~100 KiB
// responses from the HTTP sink (http-sink.mjs), plain and TLS as the chain carries them: `direct`
// and the CONNECT chain (`edge-tunnel`: one CONNECT per connection, then keep-alive; TLS end to end)
// both, `edge-tunnel-http` (:10264) plain, `edge-tunnel-https` (:10263) TLS — the last two on the
// CONNECT chain's own server and agent. Per case: req/s, p50, p99 and CPU ms per 1 000 requests of
// every process (server, agent, sink, client).
import { BIG, SMALL } from './http-sink.mjs';
import { keepAliveLoad } from './keepalive.mjs';
import { median } from './client.mjs';

/** @typedef {import('./scenarios.mjs').Row} Row */
/** One round of one case (keepAliveLoad). @typedef {Awaited<ReturnType<typeof keepAliveLoad>>} Round */
/** A case of a `reqs` row: kind 'http' | 'https', size 'small' | '100KiB', its rounds combined. @typedef {{ kind: string, size: string } & ReturnType<typeof combine>} ReqsCase */

export const REQS = 'reqs';
export const REQS_CHAINS = ['direct', 'edge-tunnel', 'edge-tunnel-http', 'edge-tunnel-https', 'edge-tunnel-https-passthrough'];
export const SIZES = [
  { size: 'small', path: '/small', bytes: SMALL },
  { size: '100KiB', path: '/big', bytes: BIG },
];

const METRICS = [
  { key: 'rps', label: 'req/s', better: 'higher', primary: true, digits: 0 },
  { key: 'p50', label: 'p50 ms', better: 'lower', digits: 3 },
  { key: 'p99', label: 'p99 ms', better: 'lower', digits: 3 },
  { key: 'errors', label: 'errors', better: 'lower', digits: 0 },
  ...['server', 'agent', 'sink', 'client'].map((role) => ({ key: `cpu.${role}`, label: `CPU ms/1000 req: ${role}`, better: 'lower', digits: 0 })),
];

/**
 * the rounds of one case: medians of req/s, p50, p99 and CPU per role; errors and requests summed
 * @param {Round[]} rounds
 */
function combine(rounds) {
  const med = (/** @type {number[]} */ xs) => median(xs.filter(Number.isFinite));
  const roles = Object.keys(rounds[0].cpuPer1000);
  return {
    rps: med(rounds.map((r) => r.rps)),
    p50: med(rounds.map((r) => r.p50)),
    p99: med(rounds.map((r) => r.p99)),
    requests: rounds.reduce((a, r) => a + r.requests, 0),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    firstError: rounds.find((r) => r.firstError)?.firstError,
    cpuPer1000: Object.fromEntries(roles.map((role) => [role, med(rounds.map((r) => r.cpuPer1000[role]))])),
    perRound: rounds.map((r) => Math.round(r.rps)),
  };
}

/** The case of a `reqs` row: kind 'http' | 'https', size 'small' | '100KiB'. */
export const reqsCase = (/** @type {Row | undefined} */ row, /** @type {string} */ kind, /** @type {string} */ size) =>
  row?.cases?.find((/** @type {{ kind: string, size: string }} */ c) => c.kind === kind && c.size === size);

/** @type {import('./scenarios.mjs').Scenario} */
export const reqsScenario = {
  id: REQS,
  title: 'Keep-alive requests: C callers, GET after GET on one connection each',
  chains: REQS_CHAINS,
  metrics: METRICS,
  /**
   * On `direct` its own row; on `edge-tunnel` the CONNECT frontend, :10264 and :10263 of the same
   * server and agent (rows `edge-tunnel`, `edge-tunnel-http`, `edge-tunnel-https`), in `reqRounds`
   * rounds that alternate between them (the order flips every round); each figure is the median of
   * the rounds. → { rowsByChain }
   */
  async run({ started, sizes, progress, chainNames, env }) {
    /** @type {Record<string, number>} */
    const pids = { sink: env.httpSink?.pid };
    for (const { role, proc, measured } of started.procs) if (measured) pids[role] = proc.pid;
    const carried = Object.entries(started.reqs ?? {}).filter(([name]) => !chainNames || chainNames.includes(name));
    if (!carried.length) throw new Error('the chain has no request targets');
    /** @type {Map<string, Round[]>} */
    const runs = new Map(); // `${name} ${kind} ${size}` → per-round results
    for (let round = 0; round < sizes.reqRounds; round++) {
      for (const { size, path, bytes } of SIZES) {
        for (const kind of ['http', 'https']) {
          const order = carried.filter(([, targets]) => targets[kind]);
          if (round % 2) order.reverse();
          for (const [name, targets] of order) {
            progress(`reqs · round ${round + 1}/${sizes.reqRounds} · ${name} · ${kind} ${size}`);
            // a target on processes of its own (the passthrough server and agent) names their pids
            const r = await keepAliveLoad(targets[kind], {
              callers: sizes.reqCallers,
              path,
              warmMs: sizes.reqWarmMs,
              durMs: sizes.reqDurMs,
              pids: { ...pids, ...targets[kind].pids },
              expectBytes: bytes,
            });
            const key = `${name} ${kind} ${size}`;
            runs.set(key, [...(runs.get(key) ?? []), r]);
          }
        }
      }
    }
    /** @type {Record<string, Row>} */
    const rowsByChain = {};
    for (const [name, targets] of carried) {
      const cases = [];
      for (const kind of Object.keys(targets)) for (const { size } of SIZES) cases.push({ kind, size, ...combine(runs.get(`${name} ${kind} ${size}`)) });
      rowsByChain[name] = { rps: cases[0].rps, cases };
    }
    return { rowsByChain };
  },
  /** one table row per chain and case (the generic table and chart take these as their "chains") */
  flatten(rows, chains) {
    /** @type {Record<string, Row>} */
    const flat = {};
    /** @type {import('./report.mjs').TableChain[]} */
    const names = [];
    for (const c of chains) {
      const row = rows[c.name];
      if (!row) continue;
      if (row.error) {
        flat[c.name] = row;
        names.push({ name: c.name, kind: 'baseline' });
        continue;
      }
      for (const k of row.cases) {
        const name = `${c.name} · ${k.kind} ${k.size}`;
        flat[name] = { ...k, ...Object.fromEntries(Object.entries(k.cpuPer1000).map(([role, v]) => [`cpu.${role}`, v])) };
        names.push({ name, kind: 'baseline' });
      }
    }
    return { rows: flat, chains: names };
  },
};
