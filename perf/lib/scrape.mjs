// `scrape`: metrics-server's load on one server process. N nodes (scrape-swarm.mjs: in-process agent
// sessions, each with its own certificate, answering as a kubelet), each scraped on its own
// keep-alive connection through :10264 (`--scrape-via http`, Host nodeIP:10255) or :10263 (`https`,
// the caller certificate, Host nodeIP:10250) at a fixed interval, the connections' phases spread
// evenly over it. The rate steps up (multiples of the target's 10 000 nodes / 15 s) until p99 ≥ 100 ms
// or a scrape fails; latency counts from each scrape's scheduled time (a late connection is not let
// off). → { 'edge-tunnel': { nodes, via, held, steps[] } }
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { agentIdentitiesFast } from './certs.mjs';
import { cpuMs, openCaller } from './keepalive.mjs';
import { percentile } from './client.mjs';
import { spawnProc } from './procs.mjs';
import { LIB, stopAll } from './chains/util.mjs';
import { startServer } from './chains/edge-tunnel.mjs';
import { ipOf } from './sessions.mjs';
import { census, diffCensus } from './heap-census.mjs';

export const SCRAPE = 'scrape';
/** metrics-server's default: every node every 15 s; the target is 10 000 nodes */
export const TARGET_RATE = 10_000 / 15;
export const P99_LIMIT_MS = 100;

/**
 * The server's --caller-idle-timeout-ms in this scenario (`--scrape-caller-idle-ms`): 5 s, below the
 * 15 s interval, so every scrape dials again, as metrics-server did against Node's old default, and 10 000
 * nodes fit a 20 000-descriptor limit (N + rate × 6). With the shipped 120 s every node's caller stays
 * open: 2 × N descriptors, 9 872 nodes at most in that limit.
 */
export const SCRAPE_CALLER_IDLE_MS = 5_000;
/** the server closes a keep-alive caller connection idle this long, plus slack (s) */
export const CALLER_IDLE_S = SCRAPE_CALLER_IDLE_MS / 1000 + 1;

/** file descriptors the server (a child: this process's limit) may use for sessions and callers */
export function fdBudget() {
  const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) - 256 : Infinity;
}

/**
 * Descriptors the server holds at `rate` scrapes/s of `n` nodes: an agent socket per node, and the
 * caller connections open at once: those scraped within the last `idleS` (the server closes
 * the others; a scraper dials again, as a pooled HTTP client does), at most one per node.
 */
export const fdsAt = (/** @type {number} */ n, /** @type {number} */ rate, idleS = CALLER_IDLE_S) => n + Math.min(n, Math.ceil(rate * idleS));

/** the most nodes whose scrapes at `rate` fit the fd budget */
export const nodeCap = (/** @type {number} */ rate, budget = fdBudget(), idleS = CALLER_IDLE_S) =>
  Math.max(Math.floor(budget / 2), budget - Math.ceil(rate * idleS));

/**
 * @param {import('./chains/index.mjs').Env} env @param {import('./scenarios.mjs').Sizes} sizes
 * @param {import('./scenarios.mjs').Progress} progress @param {string} [via] 'http' | 'https'
 * @param {string} [snapshots] a directory: heap snapshots of the server once the nodes are attached and after the
 * steps (both after a full GC, the callers' connections closed), and the census of what scraping left per node
 * @returns {Promise<Record<string, import('./scenarios.mjs').Row>>}
 */
export async function scrapeScenario(env, sizes, progress, via = 'http', snapshots) {
  const firstRate = TARGET_RATE * Math.min(1, sizes.scrapeRates[0]);
  const idleMs = sizes.scrapeCallerIdleMs ?? SCRAPE_CALLER_IDLE_MS;
  const idleS = idleMs / 1000 + 1;
  const n = Math.min(sizes.scrapeNodes, nodeCap(firstRate, fdBudget(), idleS));
  /** @type {import('./chains/util.mjs').ProcEntry[]} */
  const procs = [];
  try {
    progress(`scrape: ${n} agent certificates`);
    const names = Array.from({ length: n }, (_, i) => `scrape-${i}`);
    const ids = await agentIdentitiesFast(env.certs.ca, names, ipOf);
    const server = await startServer(env, { compression: false, tag: 'scrape', procs, extraArgs: ['--caller-idle-timeout-ms', String(idleMs)] });
    const swarmFile = join(env.tmp, 'scrape-swarm.json');
    const serving = { cert: env.certs.pem('kubelet-serving', 'crt'), key: env.certs.pem('kubelet-serving', 'key') };
    writeFileSync(
      swarmFile,
      JSON.stringify({
        host: '127.0.0.1',
        port: server.agent,
        ca: env.certs.caPem,
        serving,
        identities: ids.map((id, i) => ({ name: names[i], ip: ipOf(i), ...id })),
      }),
    );
    progress(`scrape: ${n} agent sessions`);
    const swarm = spawnProc('scrape-swarm', `${LIB}/scrape-swarm.mjs`, [], { node: true, env: { PERF_SWARM: swarmFile } });
    procs.push({ role: 'swarm', proc: swarm, measured: false });
    /** @type {import('./swarm.mjs').SwarmResult} */
    const attached = await swarm.message(120_000 + n * 20);
    if (attached.up < n) throw new Error(`${attached.up} of ${n} agent sessions up: ${attached.firstError}`);
    const snap = (/** @type {string} */ when) => (snapshots ? join(snapshots, `scrape-server-${when}.heapsnapshot`) : undefined);
    const heapBefore = await server.proc.probe(true, snap('before'));
    const caller = { cert: env.certs.pem('caller', 'crt'), key: env.certs.pem('caller', 'key') };
    const target = (/** @type {number} */ i) =>
      via === 'https'
        ? { host: '127.0.0.1', port: server.https, hostHeader: `${ipOf(i)}:10250`, tls: { ca: env.certs.caPem, ...caller } }
        : { host: '127.0.0.1', port: server.http, hostHeader: `${ipOf(i)}:10255` };
    // a node's connection is dialled at its first scrape and again after the server closed it idle
    /** @type {KeepAliveConn[]} */
    const conns = new Array(n);
    const reopen = (/** @type {number} */ i) => openCaller(target(i)).then((c) => (conns[i] = c));
    const steps = [];
    let fdBound;
    for (const factor of sizes.scrapeRates) {
      const rate = TARGET_RATE * factor;
      if (fdsAt(n, rate, idleS) > fdBudget()) {
        fdBound = { rate, fds: fdsAt(n, rate, idleS), budget: fdBudget() };
        progress(`scrape: ${rate.toFixed(0)}/s not run: the server would need ~${fdBound.fds} descriptors, the fd limit leaves ${fdBound.budget}`);
        break;
      }
      progress(`scrape: ${n} nodes at ${rate.toFixed(0)}/s`);
      const step = await scrapeStep(conns, reopen, rate, sizes.scrapeStepMs, { server: server.proc, swarm });
      steps.push(step);
      if (step.errors > 0 || !(step.p99 < P99_LIMIT_MS)) break;
    }
    for (const c of conns) c?.close();
    // what the scrapes left behind on the server, per node (its pooled upstream connections among it)
    await new Promise((r) => setTimeout(r, 500));
    const heapAfter = await server.proc.probe(true, snap('after'));
    const heapPerNode = (heapAfter.heapUsed - heapBefore.heapUsed) / n;
    const censusOf = snapshots ? { census: diffCensus(census(snap('before')), census(snap('after')), n, 15) } : {};
    const held = steps.filter((s) => s.errors === 0 && s.p99 < P99_LIMIT_MS).at(-1);
    return {
      'edge-tunnel': {
        nodes: n,
        via,
        achieved: held?.achieved ?? 0,
        held: held?.achieved ?? 0,
        heldP99: held?.p99,
        callerIdleMs: idleMs,
        fdBound,
        heapPerNode,
        ...censusOf,
        steps,
      },
    };
  } finally {
    await stopAll(procs);
  }
}

/** @typedef {import('./keepalive.mjs').KeepAliveConn} KeepAliveConn */
/**
 * every connection scrapes once per interval (n ÷ rate), phases spread over it, for at least two intervals
 * @param {KeepAliveConn[]} conns @param {(i: number) => Promise<unknown>} reopen @param {number} rate @param {number} minMs
 * @param {{ server: import('./procs.mjs').Proc, swarm: import('./procs.mjs').Proc }} procs
 */
async function scrapeStep(conns, reopen, rate, minMs, procs) {
  const pids = { server: procs.server.pid, swarm: procs.swarm.pid };
  const n = conns.length;
  const intervalMs = (n / rate) * 1000;
  const durMs = Math.max(minMs, 2 * intervalMs);
  const t0 = performance.now() + 50;
  /** @type {number[]} */
  const lat = [];
  let errors = 0;
  let reconnects = 0;
  /** @type {string | undefined} */
  let firstError;
  /** as an HTTP client with a connection pool does: a connection the server closed is dialled again, and a GET lost with it is sent once more */
  /** @param {number} i @returns {Promise<import('./keepalive.mjs').Response & { ms: number }>} */
  const scrape = async (i, retry = true) => {
    if (conns[i] === undefined) await reopen(i);
    else if (conns[i].closed) {
      reconnects++;
      await reopen(i);
    }
    const c = conns[i];
    try {
      return await c.get('/metrics/resource');
    } catch (err) {
      if (retry && c.closed) return scrape(i, false);
      throw err;
    }
  };
  // event-loop delay of each process over the step (it includes waiting for a CPU: read it beside the load)
  await Promise.all([procs.server.probe(false, undefined, true), procs.swarm.probe(false, undefined, true)]);
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const load0 = loadavg()[0];
  const cpu0 = { server: cpuMs(pids.server), swarm: cpuMs(pids.swarm), client: process.cpuUsage() };
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      for (let due = t0 + (i / n) * intervalMs; due < t0 + durMs; due += intervalMs) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        try {
          const r = await scrape(i);
          if (r.status !== 200) throw new Error(`status ${r.status}`);
          lat.push(performance.now() - due);
        } catch (err) {
          errors++;
          firstError ??= err.message;
          return;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  eld.disable();
  const [serverLoop, swarmLoop] = await Promise.all([procs.server.probe(false), procs.swarm.probe(false)]);
  lat.sort((a, b) => a - b);
  return {
    offered: rate,
    achieved: lat.length / secs,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    errors,
    reconnects,
    firstError,
    // % of one core: the server's, and the harness's (the emulated nodes, the scrapers in this process)
    serverCpu: ((cpuMs(pids.server) - cpu0.server) / (secs * 1000)) * 100,
    swarmCpu: ((cpuMs(pids.swarm) - cpu0.swarm) / (secs * 1000)) * 100,
    clientCpu: ((({ user, system }) => user + system)(process.cpuUsage(cpu0.client)) / 1000 / (secs * 1000)) * 100,
    serverLoopMaxMs: serverLoop?.eldMaxMs,
    serverLoopP99Ms: serverLoop?.eldP99Ms,
    swarmLoopMaxMs: swarmLoop?.eldMaxMs,
    clientLoopMaxMs: eld.max / 1e6,
    load: `${load0.toFixed(1)}–${loadavg()[0].toFixed(1)}`,
  };
}

export const scrapeSpec = {
  title: `Scrapes of N nodes (in-process agents), one keep-alive connection each, rate stepped up until p99 ≥ ${P99_LIMIT_MS} ms`,
  metrics: [
    { key: 'offered', label: 'offered scrapes/s', better: 'higher', digits: 0 },
    { key: 'achieved', label: 'scrapes/s', better: 'higher', primary: true, digits: 0 },
    { key: 'p50', label: 'p50 ms', better: 'lower', digits: 1 },
    { key: 'p99', label: 'p99 ms', better: 'lower', digits: 1 },
    { key: 'errors', label: 'errors', better: 'lower', digits: 0 },
    { key: 'reconnects', label: 'reconnects (server closed idle)', better: 'lower', digits: 0 },
    { key: 'serverCpu', label: 'server CPU %', better: 'lower', digits: 0 },
    { key: 'swarmCpu', label: 'nodes (swarm) CPU %', better: 'lower', digits: 0 },
    { key: 'clientCpu', label: 'scrapers CPU %', better: 'lower', digits: 0 },
    { key: 'serverLoopP99Ms', label: 'server event-loop delay p99 ms', better: 'lower', digits: 0 },
    { key: 'serverLoopMaxMs', label: 'server event-loop delay max ms', better: 'lower', digits: 0 },
    { key: 'swarmLoopMaxMs', label: 'nodes (swarm) loop delay max ms', better: 'lower', digits: 0 },
    { key: 'clientLoopMaxMs', label: 'scrapers loop delay max ms', better: 'lower', digits: 0 },
    { key: 'load', label: 'load average (1 min) start–end', better: 'none' },
  ],
  /**
   * one row per step
   * @param {Record<string, import('./scenarios.mjs').Row>} rows
   */
  flatten(rows) {
    /** @type {Record<string, import('./scenarios.mjs').Row>} */
    const flat = {};
    /** @type {import('./report.mjs').TableChain[]} */
    const chains = [];
    for (const [name, row] of Object.entries(rows)) {
      if (row.error) {
        flat[name] = row;
        chains.push({ name, kind: 'baseline' });
        continue;
      }
      for (const s of row.steps) {
        const key = `${name} · ${row.nodes} nodes via ${row.via === 'https' ? ':10263' : ':10264'} · every ${(row.nodes / s.offered).toFixed(1)} s`;
        flat[key] = s;
        chains.push({ name: key, kind: 'baseline' });
      }
    }
    return { rows: flat, chains };
  },
};
