#!/usr/bin/env node
// A/B of built chains in one sitting: every variant is started once, then bulk phases alternate
// between them (order reversed every round), recording MB/s and CPU ms per MB of every process
// (/proc ticks). Ratios are taken per round against the LAST variant, then the median.
//   node perf/ab/ab.mjs <rounds> <secs> <scenarios> name=<perf/lib dir>[:chain] ...
//   e.g. sh perf/ab/scratch.sh /tmp/before   # a copy of the current dists, then rebuild with a change
//        node perf/ab/ab.mjs 6 2 bulk1,multi16,multi256 before=/tmp/before/perf/lib after=perf/lib tls=perf/lib:tls-relay
// chain defaults to edge-tunnel; a scenario's digits are its stream count (bulk1, multi16, …).
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
const M = fileURLToPath(new URL('../lib', import.meta.url));
const [rounds, secs, scen, ...specs] = process.argv.slice(2);
const { makeCerts } = await import(`${M}/certs.mjs`);
const { NODE } = await import(`${M}/chains/edge-tunnel.mjs`);
const { spawnHelper } = await import(`${M}/chains/util.mjs`);
const { connectTo, readInBackground } = await import(`${M}/client.mjs`);
const tmp = mkdtempSync(join(tmpdir(), 'h7-'));
const certs = await makeCerts(join(tmp, 'pki'), [NODE]);
const sink = await spawnHelper('sink', 'sink.mjs', [NODE.ip]);
const variants = [];
for (const spec of specs) {
  const [name, rest] = spec.split('=');
  const [libDir, chainName = 'edge-tunnel'] = rest.split(':');
  const lib = resolve(libDir);
  const { allChains } = await import(`${lib}/chains/index.mjs`);
  const vt = join(tmp, name); mkdirSync(vt);
  const env = { tmp: vt, certs, sink: { host: NODE.ip, port: sink.port }, logLevel: process.env.LOG_LEVEL ?? 'info' };
  const chain = allChains(env).chains.find((c) => c.name === chainName);
  variants.push({ name, chain, started: await chain.start({}) });
}
const ticks = (pid) => { try { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (+f[11] + +f[12]) * 10; } catch { return 0; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const res = {};
for (let r = 0; r < +rounds; r++) {
  for (const s of scen.split(',')) {
    for (const v of (r % 2 ? [...variants].reverse() : variants)) {
      const n = Number(s.replace(/\D+/g, '')) || 1;
      const procs = v.started.procs.map((p) => [p.role, p.proc.pid]);
      const socks = await Promise.all(Array.from({ length: n }, () => connectTo(v.started.endpoint)));
      const readers = socks.map((x) => readInBackground(x));
      await sleep(400);
      const t0 = procs.map(([, pid]) => ticks(pid)); const u0 = process.cpuUsage();
      for (const x of readers) x.mark();
      await sleep(+secs * 1000);
      const marks = readers.map((x) => x.mark());
      const t1 = procs.map(([, pid]) => ticks(pid)); const u1 = process.cpuUsage(u0);
      for (const x of readers) x.stop();
      const mb = marks.reduce((a, m) => a + m.bytes, 0) / 1e6; const ms = marks[0].ms;
      const row = { mbps: mb / (ms / 1000), cpu: {} };
      procs.forEach(([role], i) => (row.cpu[role] = (t1[i] - t0[i]) / mb));
      row.cpu.client = (u1.user + u1.system) / 1000 / mb;
      (res[`${s} ${v.name}`] ??= []).push(row);
      console.log(`r${r} ${s.padEnd(9)} ${v.name.padEnd(8)} ${row.mbps.toFixed(1).padStart(7)} MB/s  ms/MB: ${Object.entries(row.cpu).map(([k, x]) => `${k} ${x.toFixed(2)}`).join(' ')}`);
      await sleep(150);
    }
  }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
console.log(`medians (ratio = ÷ ${variants.at(-1).name}, per round, then median):`);
for (const s of scen.split(',')) {
  const base = res[`${s} ${variants.at(-1).name}`];
  for (const v of variants) {
    const rows = res[`${s} ${v.name}`];
    const ratios = rows.map((x, i) => x.mbps / base[i].mbps);
    const cpuSum = rows.map((x) => Object.entries(x.cpu).filter(([k]) => k !== 'client').reduce((a, [, y]) => a + y, 0));
    console.log(`${s.padEnd(9)} ${v.name.padEnd(8)} MB/s ${med(rows.map((x) => x.mbps)).toFixed(1).padStart(6)}  ratio ${med(ratios).toFixed(2)} [${ratios.map((x) => x.toFixed(2)).join(' ')}]  relay ms/MB ${med(cpuSum).toFixed(2)}  client ms/MB ${med(rows.map((x) => x.cpu.client)).toFixed(2)}`);
  }
}
for (const v of variants) await v.chain.stop();
await sink.proc.stop();
process.exit(0);
