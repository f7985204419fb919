#!/usr/bin/env node
// Syscalls per churned stream, per process: starts the chains, runs C loops of open, 1 KiB each way,
// close (churnOnce) for `secs`, with `strace -c -f` attached to every process of the chain for the
// counted window; prints streams/s and, per process, the calls per stream of the busiest syscalls.
// (strace slows every call it traces: compare the counts, not the rate.)
//   node perf/ab/churn-syscalls.mjs [secs=3] [loops=16] [chain=edge-tunnel ...]   e.g. … 3 16 edge-tunnel floor
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const M = fileURLToPath(new URL('../lib', import.meta.url));
const [secs = '3', loops = '16', ...names] = process.argv.slice(2);
const { makeCerts } = /** @type {typeof import('../lib/certs.mjs')} */ (await import(`${M}/certs.mjs`));
const { NODE } = /** @type {typeof import('../lib/chains/edge-tunnel.mjs')} */ (await import(`${M}/chains/edge-tunnel.mjs`));
const { spawnHelper } = /** @type {typeof import('../lib/chains/util.mjs')} */ (await import(`${M}/chains/util.mjs`));
const { allChains } = /** @type {typeof import('../lib/chains/index.mjs')} */ (await import(`${M}/chains/index.mjs`));
const { churnOnce } = /** @type {typeof import('../lib/client.mjs')} */ (await import(`${M}/client.mjs`));
const tmp = mkdtempSync(join(tmpdir(), 'churn-syscalls-'));
const certs = await makeCerts(join(tmp, 'pki'), [NODE]);
const sink = await spawnHelper('sink', 'sink.mjs', [NODE.ip]);
const env = { tmp, certs, sink: { host: NODE.ip, port: sink.port }, logLevel: process.env.LOG_LEVEL ?? 'info' };
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * strace -c of one pid until stop(): → Map(syscall → calls)
 * @param {number} pid @param {string} file
 */
function traceCalls(pid, file) {
  const child = spawn('strace', ['-c', '-f', '-o', file, '-p', String(pid)], { stdio: 'ignore' });
  return {
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      /** @type {Map<string, number>} */
      const calls = new Map();
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
        if (m && m[2] !== 'total') calls.set(m[2], Number(m[1]));
      }
      return calls;
    },
  };
}

const payload = Buffer.alloc(1024, 7);
for (const name of names.length ? names : ['edge-tunnel', 'floor']) {
  const chain = allChains({ ...env, tmp: mkdtempSync(join(tmp, `${name}-`)) }).chains.find((c) => c.name === name);
  const started = await chain.start({});
  let streams = 0;
  let stop = false;
  const run = Array.from({ length: Number(loops) }, async () => {
    while (!stop) await churnOnce(started.endpoint, payload).then(() => streams++);
  });
  await sleep(1000); // warm-up
  /** @type {[string, number][]} */
  const procs = [...started.procs.map((p) => /** @type {[string, number]} */ ([p.role, p.proc.pid])), ['sink', sink.proc.pid]];
  const traces = procs.map(([role, pid]) => /** @type {const} */ ([role, traceCalls(pid, join(tmp, `${name}-${role}.strace`))]));
  await sleep(300); // strace attached
  const from = streams;
  const t0 = performance.now();
  await sleep(Number(secs) * 1000);
  const counted = streams - from;
  const ms = performance.now() - t0;
  /** @type {[string, Map<string, number>][]} */
  const results = [];
  for (const [role, t] of traces) results.push([role, await t.stop()]);
  stop = true;
  await Promise.all(run);
  await chain.stop();
  console.log(`${name}: ${counted} streams in ${(ms / 1000).toFixed(1)} s under strace (${((counted * 1000) / ms).toFixed(0)}/s)`);
  for (const [role, calls] of results) {
    const top = [...calls.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
    const total = [...calls.values()].reduce((a, b) => a + b, 0);
    console.log(
      `  ${role.padEnd(8)} ${(total / counted).toFixed(1).padStart(6)} calls/stream: ${top.map(([k, v]) => `${k} ${(v / counted).toFixed(2)}`).join(', ')}`,
    );
  }
}
await sink.proc.stop();
process.exit(0);
