// `reqs`: keep-alive request/response, as kube-apiserver, metrics-server and Prometheus use the
// tunnel. C callers, each one keep-alive connection sending GET after GET, small (64 B) and ~100 KiB
// responses from the HTTP sink (http-sink.mjs), plain and TLS as the chain carries them: `direct`
// and the CONNECT chain (`edge-tunnel`: one CONNECT per connection, then keep-alive; TLS end to end)
// both, `edge-tunnel-http` (:10264) plain, `edge-tunnel-https` (:10263) TLS. Per case: req/s, p50,
// p99 and CPU ms per 1 000 requests of every process (server, agent, sink, client).
import { BIG, SMALL } from './http-sink.mjs';
import { keepAliveLoad } from './keepalive.mjs';

export const REQS = 'reqs';
export const REQS_CHAINS = ['direct', 'edge-tunnel', 'edge-tunnel-http', 'edge-tunnel-https'];
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

/** The case of a `reqs` row: kind 'http' | 'https', size 'small' | '100KiB'. */
export const reqsCase = (row, kind, size) => row?.cases?.find((c) => c.kind === kind && c.size === size);

export const reqsScenario = {
  id: REQS,
  title: 'Keep-alive requests: C callers, GET after GET on one connection each',
  chains: REQS_CHAINS,
  metrics: METRICS,
  async run({ started, sizes, progress, chain, env }) {
    const pids = { sink: env.httpSink?.pid };
    for (const { role, proc, measured } of started.procs) if (measured) pids[role] = proc.pid;
    const cases = [];
    for (const [kind, target] of Object.entries(started.reqs ?? {})) {
      for (const { size, path, bytes } of SIZES) {
        progress(`reqs · ${chain.name} · ${kind} ${size}`);
        const r = await keepAliveLoad(target, { callers: sizes.reqCallers, path, warmMs: sizes.reqWarmMs, durMs: sizes.reqDurMs, pids, expectBytes: bytes });
        cases.push({ kind, size, ...r });
      }
    }
    if (!cases.length) throw new Error('the chain has no request targets');
    return { rps: cases[0].rps, cases };
  },
  /** one table row per chain and case (the generic table and chart take these as their "chains") */
  flatten(rows, chains) {
    const flat = {};
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
