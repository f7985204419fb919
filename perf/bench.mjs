#!/usr/bin/env node
// npm run bench [-- --quick] [--tiny] [--only a,b] [--chains x,y] [--out dir] [--snapshots dir]
//   [--scrape-nodes N] [--scrape-rates 0.5,1,2] [--scrape-step-ms ms] [--scrape-caller-idle-ms ms] [--scrape-via http|https] [--sessions N]
// Starts every chain as real processes on loopback, drives the same client and sink through each,
// prints a table per scenario with edge-tunnel's ratios to every peer, writes results JSON and an
// SVG chart per scenario (default perf/results/). See README.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCerts } from './lib/certs.mjs';
import { allChains } from './lib/chains/index.mjs';
import { TRANSPORT_CHAINS } from './lib/chains/edge-tunnel-transports.mjs';
import { TRANSPORTS_PAIRED, pairedTransports, transportsSpec } from './lib/transports-paired.mjs';
import { NODE, PASSTHROUGH_CHAIN } from './lib/chains/edge-tunnel.mjs';
import { spawnHelper } from './lib/chains/util.mjs';
import { spawnProc } from './lib/procs.mjs';
import { censusTables, commitOf, machine, svgChart, table } from './lib/report.mjs';
import { SCENARIOS } from './lib/scenarios.mjs';
import { pairedBulk, pairedRtt } from './lib/paired.mjs';
import { agentSessions } from './lib/sessions.mjs';
import { SCRAPE, scrapeScenario, scrapeSpec } from './lib/scrape.mjs';
import { ET, ETZ, FLOOR, LZ4_COST, RTT_PAIRED, evaluateTargets, verdict } from './lib/targets.mjs';
import { sizesFor } from './lib/sizes.mjs';

/** @typedef {import('./lib/chains/index.mjs').Chain} Chain */
/** @typedef {import('./lib/scenarios.mjs').Row} Row */
/** @typedef {import('./lib/scenarios.mjs').Sizes} Sizes */
/**
 * The results JSON (results/bench-<date>.json): the run's command, flags and machine, its sizes and notes,
 * the chains in table order, every scenario's rows by chain, the targets' verdicts and the run's length.
 * @typedef {{ command: string, quick: boolean, tiny: boolean, date: string, node: string, commit: string,
 *   machine: ReturnType<typeof machine>, sizes: Sizes, notes: string[], chains: import('./lib/report.mjs').TableChain[],
 *   scenarios: Record<string, import('./lib/scenarios.mjs').ScenarioResult>, targets?: import('./lib/targets.mjs').Target[], durationS?: number }} BenchResults
 */

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (/** @type {string} */ name) => args.includes(`--${name}`);
const opt = (/** @type {string} */ name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = flag('quick');
const TINY = flag('tiny');

const sizes = sizesFor(TINY ? 'tiny' : QUICK ? 'quick' : 'full');
if (opt('scrape-nodes')) sizes.scrapeNodes = Number(opt('scrape-nodes'));
if (opt('scrape-rates')) sizes.scrapeRates = opt('scrape-rates').split(',').map(Number);
if (opt('scrape-step-ms')) sizes.scrapeStepMs = Number(opt('scrape-step-ms'));
if (opt('scrape-caller-idle-ms')) sizes.scrapeCallerIdleMs = Number(opt('scrape-caller-idle-ms'));
if (opt('sessions')) sizes.agentSessions = Number(opt('sessions'));
const scrapeVia = opt('scrape-via') ?? 'http';
const outDir = opt('out') ?? join(here, 'results');
const only = opt('only')?.split(',');
const onlyChains = opt('chains')?.split(',');
// heap snapshots before/after `idle` and `sessions` (kept in this directory) and what grew, by kind
const snapshots = opt('snapshots');
if (snapshots) mkdirSync(snapshots, { recursive: true });

// ---------------------------------------------------------------- progress line
const tty = process.stderr.isTTY;
const t0 = Date.now();
/** @param {string} text */
function progress(text) {
  const line = `[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${text}`;
  if (tty) process.stderr.write(`\r\x1b[K${line.slice(0, process.stderr.columns - 1)}`);
  else process.stderr.write(`${line}\n`);
}
const log = (/** @type {string} */ text) => (tty ? process.stderr.write(`\r\x1b[K${text}\n`) : process.stderr.write(`${text}\n`));

// ---------------------------------------------------------------- setup
const tmp = mkdtempSync(join(tmpdir(), 'edge-tunnel-perf-'));
progress('certificates');
const certs = await makeCerts(join(tmp, 'pki'), [NODE]);
const sink = await spawnHelper('sink', 'sink.mjs', [NODE.ip]);
const httpSink = await startHttpSink(certs);
/** @type {import('./lib/chains/index.mjs').Env} */
const env = { tmp, certs, sink: { host: NODE.ip, port: sink.port }, httpSink, logLevel: opt('log-level') ?? 'info' };
const { chains: all, notes, extra } = allChains(env);
const chains = onlyChains ? all.filter((c) => onlyChains.includes(c.name)) : all;
// the edge-tunnel chain starts the passthrough server and agent only when their chain is measured
env.passthrough = chains.some((c) => c.name === PASSTHROUGH_CHAIN);
for (const n of notes) log(`note: ${n}`);

const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.id));
/** @type {BenchResults} */
const results = {
  command: `node perf/bench.mjs ${args.join(' ')}`.trim(),
  quick: QUICK,
  tiny: TINY,
  date: new Date().toISOString(),
  node: process.version,
  commit: commitOf(join(here, '..')),
  machine: machine(),
  sizes,
  notes,
  chains: chains.map(({ name, label, kind, scenarios: only }) => ({ name, label, kind, scenarios: only })),
  scenarios: {},
};
for (const s of scenarios) results.scenarios[s.id] = { title: s.title, metrics: s.metrics, rows: {} };

let exitCode = 0;
const shutdown = async () => {
  for (const c of [...all, ...Object.values(extra).filter(Boolean)]) await c.stop().catch(() => {});
  await sink.proc.stop();
  await httpSink.proc.stop();
};
for (const [signal, code] of /** @type {[NodeJS.Signals, number][]} */ ([
  ['SIGINT', 130],
  ['SIGTERM', 143],
])) {
  process.once(signal, async () => {
    await shutdown();
    process.exit(code);
  });
}

/**
 * The request/response sink (http-sink.mjs) on the node's IP: plain and TLS with the kubelet's serving certificate.
 * @param {import('./lib/certs.mjs').Certs} certs
 * @returns {Promise<import('./lib/chains/index.mjs').HttpSink>}
 */
async function startHttpSink(certs) {
  const cfg = { cert: certs.path('kubelet-serving', 'crt'), key: certs.path('kubelet-serving', 'key') };
  const proc = spawnProc('http-sink', join(here, 'lib', 'http-sink.mjs'), [NODE.ip], { node: true, env: { PERF_HTTP_SINK: JSON.stringify(cfg) } });
  const { httpPort, httpsPort, kubeletPort, kubeletError } = await proc.message();
  return { proc, pid: proc.pid, httpPort, httpsPort, kubeletPort, kubeletError };
}

/** @param {Chain} chain @param {import('./lib/scenarios.mjs').Scenario[]} all */
async function runOn(chain, all) {
  const group = all.filter((s) => (!chain.scenarios || chain.scenarios.includes(s.id)) && (!s.chains || s.chains.includes(chain.name)));
  if (!group.length) return;
  const linkOf = group[0].link?.(sizes);
  let started;
  try {
    progress(`${chain.name}: starting${linkOf ? ' (with link)' : ''}`);
    started = await chain.start({ link: linkOf });
  } catch (err) {
    for (const s of group) results.scenarios[s.id].rows[chain.name] = { error: `start: ${err.message}` };
    log(`${chain.name}: failed to start: ${err.message}`);
    await chain.stop().catch(() => {});
    return;
  }
  for (const s of group) {
    progress(`${s.id} · ${chain.name}`);
    try {
      const r = await s.run({ started, sizes, chain, progress, snapshots, env, chainNames: chains.map((c) => c.name) });
      // a scenario may measure several chains on one start (reqs: the entries of one server)
      if (r?.rowsByChain) Object.assign(results.scenarios[s.id].rows, r.rowsByChain);
      else results.scenarios[s.id].rows[chain.name] = r;
    } catch (err) {
      results.scenarios[s.id].rows[chain.name] = { error: err.message };
      log(`${s.id} · ${chain.name}: ${err.message.split('\n')[0]}`);
    }
  }
  await chain.stop();
}

/**
 * A paired scenario: the named chains of this run (the first one and at least one other) started side
 * by side, `measure(started)` → its rows, then stopped. Close calls are measured this way: a sequential
 * run measures two chains minutes apart, and single runs swing ±15 % on their own (Finding 2).
 * @param {string} id @param {{ title: string, metrics: import('./lib/scenarios.mjs').Metric[] }} scenario @param {string[]} names
 * @param {(started: import('./lib/paired.mjs').Variant[]) => Promise<Record<string, Row>>} measure
 */
async function sideBySide(id, scenario, names, measure) {
  const picked = names.map((n) => chains.find((c) => c.name === n)).filter(Boolean);
  if (picked.length < 2 || picked[0].name !== names[0]) return;
  results.scenarios[id] = { ...scenario, rows: {} };
  try {
    progress(`${id}: starting ${picked.map((c) => c.name).join(', ')}`);
    /** @type {import('./lib/paired.mjs').Variant[]} */
    const started = [];
    for (const c of picked) started.push({ name: c.name, endpoint: (await c.start({})).endpoint });
    results.scenarios[id].rows = await measure(started);
  } catch (err) {
    results.scenarios[id].rows[names[0]] = { error: err.message };
    log(`${id}: ${err.message.split('\n')[0]}`);
  } finally {
    for (const c of picked) await c.stop().catch(() => {});
  }
}

/** Compression's cost on random bytes: one bulk stream alternating between edge-tunnel with and without lz4. */
const lz4Cost = () =>
  sideBySide(
    LZ4_COST,
    {
      title: 'Compression on random bytes: one stream, edge-tunnel with and without lz4 in alternating phases',
      metrics: [
        { key: 'mbps', label: 'MB/s (median of the rounds)', better: 'higher', primary: true },
        { key: 'ratio', label: 'lz4 ÷ plain (median of per-round ratios)', better: 'higher', digits: 2 },
      ],
    },
    [ETZ, ET],
    ([a, b]) => pairedBulk(a, b, { rounds: sizes.pairedRounds, warmMs: sizes.warmMs, durMs: sizes.pairedMs, progress }),
  );

/**
 * The agent's transports side by side (issue 18): edge-tunnel (TLS) with edge-tunnel-ws, and through
 * tinyproxy TLS with WebSocket; one and 16 bulk streams and the idle RTT in alternating rounds.
 */
const transportsPaired = () =>
  sideBySide(TRANSPORTS_PAIRED, transportsSpec, [ET, ...Object.values(TRANSPORT_CHAINS)], (started) =>
    pairedTransports(started, {
      rounds: sizes.pairedRounds,
      warmMs: sizes.warmMs,
      durMs: sizes.pairedMs,
      pings: sizes.pairedPings,
      warm: sizes.rttWarm,
      progress,
    }),
  );

/** The idle RTT of edge-tunnel, OpenSSH, the floor and the TLS relay, in alternating rounds after a warm-up each. */
const rttPaired = () =>
  sideBySide(
    RTT_PAIRED,
    {
      title: '64-byte request/response RTT, idle: chains side by side, alternating rounds',
      metrics: [
        { key: 'p50', label: 'p50 ms (median of the rounds)', better: 'lower', primary: true, digits: 3 },
        { key: 'ratio', label: '÷ OpenSSH (median of per-round ratios)', better: 'lower', digits: 2 },
      ],
    },
    [ET, 'openssh', FLOOR, 'tls-relay'],
    (started) => pairedRtt(started, { rounds: sizes.pairedRounds, pings: sizes.pairedPings, warm: sizes.rttWarm, ref: 'openssh', progress }),
  );

try {
  // loopback scenarios: one start per chain, every scenario on it (baselines are probed per scenario)
  const plain = scenarios.filter((s) => !s.link);
  if (plain.length) for (const c of chains) await runOn(c, plain);
  // link scenarios: one start per chain and link (scenarios with the same link share it)
  /** @type {Map<string, import('./lib/scenarios.mjs').Scenario[]>} */
  const byLink = new Map();
  for (const s of scenarios.filter((x) => x.link)) {
    const key = JSON.stringify(s.link(sizes));
    byLink.set(key, [...(byLink.get(key) ?? []), s]);
  }
  for (const group of byLink.values()) {
    for (const c of chains) await runOn(c, group);
    for (const s of group) {
      const extras = (s.extraChains ?? [])
        .map((k) => extra[/** @type {keyof typeof extra} */ (k)])
        .filter(Boolean)
        .filter((c) => !onlyChains || onlyChains.includes(c.name));
      for (const c of extras) await runOn(c, [s]);
      for (const c of extras)
        if (!results.chains.some((x) => x.name === c.name)) results.chains.push({ name: c.name, label: c.label, kind: c.kind, only: s.id });
    }
  }
  if (!only || only.includes(LZ4_COST)) await lz4Cost();
  if (!only || only.includes(RTT_PAIRED)) await rttPaired();
  if (!only || only.includes(TRANSPORTS_PAIRED)) await transportsPaired();
  if (!only || only.includes(SCRAPE)) {
    results.scenarios[SCRAPE] = { ...scrapeSpec, rows: {} };
    try {
      results.scenarios[SCRAPE].rows = await scrapeScenario(env, sizes, progress, scrapeVia, snapshots);
    } catch (err) {
      results.scenarios[SCRAPE].rows['edge-tunnel'] = { error: err.message };
      log(`scrape: ${err.message.split('\n')[0]}`);
    }
  }
  if (!only || only.includes('sessions')) {
    const id = 'sessions';
    results.scenarios[id] = {
      title: 'Memory per idle agent session (server process; tls-relay: a bare Node mTLS server, the floor)',
      metrics: [
        { key: 'sessions', label: 'sessions', better: 'higher', digits: 0 },
        { key: 'rssPerSession', label: 'RSS B/session', better: 'lower', primary: true, digits: 0 },
        { key: 'heapPerSession', label: 'heap B/session', better: 'lower', digits: 0 },
        { key: 'externalPerSession', label: 'external B/session', better: 'lower', digits: 0 },
      ],
      rows: {},
    };
    try {
      results.scenarios[id].rows = await agentSessions(env, sizes.agentSessions, progress, snapshots);
    } catch (err) {
      results.scenarios[id].rows['edge-tunnel'] = { error: err.message };
      log(`sessions: ${err.message.split('\n')[0]}`);
    }
  }
} catch (err) {
  log(`bench failed: ${err.stack}`);
  exitCode = 1;
} finally {
  await shutdown();
}

// ---------------------------------------------------------------- report
results.targets = evaluateTargets(results);
results.durationS = (Date.now() - t0) / 1000;
mkdirSync(outDir, { recursive: true });
const stamp = results.date.replace(/[:.]/g, '-').slice(0, 19);
const jsonPath = join(outDir, `bench-${stamp}${TINY ? '-tiny' : QUICK ? '-quick' : ''}.json`);
writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
const tableChains = results.chains;
const text = [];
for (const [id, sc] of Object.entries(results.scenarios)) {
  // a scenario with several cases per chain (reqs) shows one row per chain and case
  const flatten = id === SCRAPE ? scrapeSpec.flatten : SCENARIOS.find((x) => x.id === id)?.flatten;
  const flat = flatten?.(sc.rows, tableChains) ?? { rows: sc.rows, chains: tableChains };
  text.push(table(sc, flat.rows, flat.chains), '');
  writeFileSync(join(outDir, `${id}${TINY ? '-tiny' : QUICK ? '-quick' : ''}.svg`), svgChart(sc, flat.rows, flat.chains));
}
if (snapshots) text.push(censusTables(results.scenarios), '');
const num = (/** @type {number} */ x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
text.push('## Targets', '', 'floor: the same measure on `floor` (the least a Node mux does) — for the added p99 the quieter of `floor` and `direct`.', '');
text.push('| target | edge-tunnel | floor | goal | met |', '| --- | --- | --- | --- | --- |');
for (const t of results.targets) text.push(`| ${t.name} | ${num(t.value)} | ${num(t.floor)} | ${t.goal} | ${verdict(t)} |`);
const md = text.join('\n');
writeFileSync(
  join(outDir, `latest${TINY ? '-tiny' : QUICK ? '-quick' : ''}.md`),
  `${results.command} — ${results.date}, node ${results.node}, ${results.machine.cpus} × ${results.machine.cpuModel}, commit ${results.commit.slice(0, 12)}\n\n${md}\n`,
);
if (tty) process.stderr.write('\r\x1b[K');
process.stdout.write(`${md}\n\nresults: ${jsonPath} (${results.durationS.toFixed(0)} s)\n`);
rmSync(tmp, { recursive: true, force: true });
process.exit(exitCode);
