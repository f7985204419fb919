#!/usr/bin/env node
// A/B of built chains in one sitting: every variant is started once, then phases alternate between
// them (order reversed every round), recording the rate and CPU ms per unit of every process (/proc
// ticks; the sink is shared). Ratios are taken per round against the LAST variant, then the median.
// Bulk scenarios: MB/s, ms per MB. churn<C>: C loops of open, 1 KiB each way, close (churnOnce):
// streams/s, ms per 1 000 streams. stalled<N>: N bulk streams next to one whose reader stopped.
//   node perf/ab/ab.mjs <rounds> <secs> <scenarios> name=<perf/lib dir>[:chain] ...
//   e.g. sh perf/ab/scratch.sh /tmp/before   # a copy of the current dists, then rebuild with a change
//        node perf/ab/ab.mjs 6 2 bulk1,multi16,multi256 before=/tmp/before/perf/lib after=perf/lib tls=perf/lib:tls-relay
// chain defaults to edge-tunnel; a scenario's digits are its stream count (bulk1, multi16, churn16 …).
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
const M = fileURLToPath(new URL('../lib', import.meta.url));
const [rounds, secs, scen, ...specs] = process.argv.slice(2);
const { makeCerts } = /** @type {typeof import('../lib/certs.mjs')} */ (await import(`${M}/certs.mjs`));
const { NODE } = /** @type {typeof import('../lib/chains/edge-tunnel.mjs')} */ (await import(`${M}/chains/edge-tunnel.mjs`));
const { spawnHelper } = /** @type {typeof import('../lib/chains/util.mjs')} */ (await import(`${M}/chains/util.mjs`));
const {
  churnOnce,
  connectTo,
  median: med,
  openStalled,
  readInBackground,
} = /** @type {typeof import('../lib/client.mjs')} */ (await import(`${M}/client.mjs`));
const tmp = mkdtempSync(join(tmpdir(), 'h7-'));
const certs = await makeCerts(join(tmp, 'pki'), [NODE]);
const sink = await spawnHelper('sink', 'sink.mjs', [NODE.ip]);
/** @type {{ name: string, chain: import('../lib/chains/index.mjs').Chain, started: import('../lib/chains/index.mjs').Started }[]} */
const variants = [];
for (const spec of specs) {
  const [name, rest] = spec.split('=');
  const [libDir, chainName = 'edge-tunnel'] = rest.split(':');
  const lib = resolve(libDir);
  const { allChains } = /** @type {typeof import('../lib/chains/index.mjs')} */ (await import(`${lib}/chains/index.mjs`));
  const vt = join(tmp, name);
  mkdirSync(vt);
  const env = { tmp: vt, certs, sink: { host: NODE.ip, port: sink.port }, logLevel: process.env.LOG_LEVEL ?? 'info' };
  const chain = allChains(env).chains.find((c) => c.name === chainName);
  variants.push({ name, chain, started: await chain.start({}) });
}
const ticks = (/** @type {number} */ pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (+f[11] + +f[12]) * 10;
  } catch {
    return 0;
  }
};
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
// a load runs until stop(); mark() → { units, ms } since the previous mark (units: MB, or 1 000 streams)
/** @typedef {import('../lib/client.mjs').Endpoint} Endpoint */
/** @typedef {{ mark: () => { units: number, ms: number }, stop: () => Promise<void> }} Load */
/** @param {Endpoint} ep @param {number} n @returns {Promise<Load>} */
const bulk = async (ep, n) => {
  const readers = (await Promise.all(Array.from({ length: n }, () => connectTo(ep)))).map((x) => readInBackground(x));
  return {
    mark: () => {
      const m = readers.map((x) => x.mark());
      return { units: m.reduce((a, x) => a + x.bytes, 0) / 1e6, ms: m[0].ms };
    },
    stop: async () => {
      for (const x of readers) x.stop();
    },
  };
};
/** @param {Endpoint} ep @param {number} n @returns {Promise<Load>} */
const churn = async (ep, n) => {
  /** @type {unknown} */
  let failed;
  const payload = Buffer.alloc(1024, 7);
  let streams = 0,
    from = performance.now(),
    stop = false;
  const loops = Array.from({ length: n }, async () => {
    while (!stop)
      await churnOnce(ep, payload).then(
        () => streams++,
        (err) => {
          stop = true;
          failed ??= err;
        },
      );
  });
  return {
    mark: () => {
      const r = { units: streams / 1000, ms: performance.now() - from };
      streams = 0;
      from = performance.now();
      return r;
    },
    stop: async () => {
      stop = true;
      await Promise.all(loops);
      if (failed) throw failed;
    },
  };
};
// stalled<n>: n bulk streams next to one stream whose reader stopped (opened first, so it has filled
// every window and buffer by the time the phase is measured); compare with bulk<n> of the same variant
/** @param {Endpoint} ep @param {number} n @returns {Promise<Load>} */
const stalledBulk = async (ep, n) => {
  const stalled = await openStalled(ep);
  await sleep(300);
  const load = await bulk(ep, n);
  return {
    mark: load.mark,
    stop: async () => {
      await load.stop();
      stalled.destroy();
    },
  };
};
const kindOf = (/** @type {string} */ s) =>
  s.startsWith('churn')
    ? { load: churn, rate: 'streams/s', per: 1000, cpu: 'ms/1k' }
    : { load: s.startsWith('stalled') ? stalledBulk : bulk, rate: 'MB/s', per: 1, cpu: 'ms/MB' };
/** one phase of one variant: its rate and CPU ms per unit by process @typedef {{ rate: number, cpu: Record<string, number> }} PhaseRow */
/** @type {Record<string, PhaseRow[]>} */
const res = {};
try {
  for (let r = 0; r < +rounds; r++) {
    for (const s of scen.split(',')) {
      const kind = kindOf(s);
      for (const v of r % 2 ? [...variants].reverse() : variants) {
        const n = Number(s.replace(/\D+/g, '')) || 1;
        /** @type {[string, number][]} */
        const procs = [...v.started.procs.map((p) => /** @type {[string, number]} */ ([p.role, p.proc.pid])), ['sink', sink.proc.pid]];
        const load = await kind.load(v.started.endpoint, n);
        await sleep(400);
        const t0 = procs.map(([, pid]) => ticks(pid));
        const u0 = process.cpuUsage();
        load.mark();
        await sleep(+secs * 1000);
        const { units, ms } = load.mark();
        const t1 = procs.map(([, pid]) => ticks(pid));
        const u1 = process.cpuUsage(u0);
        await load.stop();
        /** @type {PhaseRow} */
        const row = { rate: (units * kind.per) / (ms / 1000), cpu: {} };
        procs.forEach(([role], i) => (row.cpu[role] = (t1[i] - t0[i]) / units));
        row.cpu.client = (u1.user + u1.system) / 1000 / units;
        (res[`${s} ${v.name}`] ??= []).push(row);
        console.log(
          `r${r} ${s.padEnd(9)} ${v.name.padEnd(8)} ${row.rate.toFixed(1).padStart(7)} ${kind.rate}  ${kind.cpu}: ${Object.entries(row.cpu)
            .map(([k, x]) => `${k} ${x.toFixed(2)}`)
            .join(' ')}`,
        );
        await sleep(150);
      }
    }
  }
  console.log(`medians (ratio = ÷ ${variants.at(-1).name}, per round, then median; relay = every process but client and sink):`);
  for (const s of scen.split(',')) {
    const kind = kindOf(s);
    const base = res[`${s} ${variants.at(-1).name}`];
    for (const v of variants) {
      const rows = res[`${s} ${v.name}`];
      const ratios = rows.map((x, i) => x.rate / base[i].rate);
      const relay = (/** @type {PhaseRow} */ x) =>
        Object.entries(x.cpu)
          .filter(([k]) => k !== 'client' && k !== 'sink')
          .reduce((a, [, y]) => a + y, 0);
      // each process: median CPU per unit, and (in brackets) the median per-round ratio to the last variant
      // (a process the last variant does not have, e.g. server vs egress, gets no ratio)
      const cpuOf = (/** @type {(x: PhaseRow) => number} */ f) => {
        const per = rows.map((x, i) => f(x) / f(base[i]));
        return `${med(rows.map(f)).toFixed(2)}${per.every(Number.isFinite) ? ` (${med(per).toFixed(2)})` : ''}`;
      };
      console.log(
        `${s.padEnd(9)} ${v.name.padEnd(8)} ${kind.rate} ${med(rows.map((x) => x.rate))
          .toFixed(1)
          .padStart(6)}  ratio ${med(ratios).toFixed(2)} [${ratios.map((x) => x.toFixed(2)).join(' ')}]  ${kind.cpu}: relay ${cpuOf(relay)}, ${Object.keys(
          rows[0].cpu,
        )
          .map((k) => `${k} ${cpuOf((x) => x.cpu[k])}`)
          .join(' ')}`,
      );
    }
  }
} finally {
  for (const v of variants) await v.chain.stop();
  await sink.proc.stop();
}
process.exit(0);
