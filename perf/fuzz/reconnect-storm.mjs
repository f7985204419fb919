#!/usr/bin/env node
// Reconnect storm: one real edge-tunnel-server process (apps/server/dist) and N in-process agents
// (TLS + framing Session + the agent's reconnect schedule, Backoff from apps/agent/dist/backoff.js:
// the first redial after a lost session spread over --reconnect-spread-ms, then full-jitter backoff).
// All attach, the server is SIGKILLed and restarted on the same port, and we measure how long until
// all N are back and how the reconnects spread over 100 ms buckets (a storm: max bucket ≫ mean).
//   node perf/fuzz/reconnect-storm.mjs [--agents 1000] [--base-ms 500] [--max-ms 30000]
//     [--reconnect-spread-ms <agent default>; 0 = the old behaviour]
//     [--server-max-handshakes <server default 256>: the server's --max-agent-handshakes; 100000 = unpaced] [--json]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { Session } from '@edge-tunnel/framing';
import { Backoff, DEFAULT_RECONNECT_SPREAD_MS } from '@edge-tunnel/agent';
import { agentIdentities, makeCerts } from '../lib/certs.mjs';

/** An agent's identity (cached in ids.json). @typedef {{ name: string, ip: string, certPem: string, keyPem: string }} StormId */
/** The run's PKI: the directory of makeCerts' files, the CA and every agent's identity. @typedef {{ dir: string, caPem: string, ids: StormId[] }} StormPki */
/** What the agents share: the server's agent port, the CA, and when each dial and each session up happened (performance.now()). @typedef {{ port: number, ca: string, dials: number[], ups: number[] }} StormCtx */
/**
 * One emulated agent: up while its session is; `done` settles when its loop stopped.
 * @typedef {{ id: StormId, up: boolean, attempts: number, stop: boolean, done?: Promise<void>, session?: import('@edge-tunnel/framing').Session }} StormAgent
 */
/** @typedef {{ max: number, mean: number }} BucketStat */

const args = process.argv.slice(2);
/** @param {string} name @param {number | undefined} def */
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = opt('agents', 1000);
const BASE = opt('base-ms', 500);
const MAX = opt('max-ms', 30_000);
const SPREAD = opt('reconnect-spread-ms', DEFAULT_RECONNECT_SPREAD_MS);
const DEADLINE = opt('deadline-ms', 30_000);
const MAX_HANDSHAKES = opt('server-max-handshakes', undefined);
const JSON_OUT = args.includes('--json');
const say = /** @returns {void} */ (/** @type {string} */ s) => void (JSON_OUT ? process.stderr : process.stdout).write(`${s}\n`);
const ipOf = (/** @type {number} */ i) => `127.51.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const SERVER_MAIN = join(dirname(fileURLToPath(import.meta.resolve('@edge-tunnel/server'))), 'main.js');

/**
 * Certificates for N agents, cached across runs (signing 1000 takes a while).
 * @returns {Promise<StormPki>}
 */
async function certs() {
  const dir = join(tmpdir(), `edge-tunnel-storm-${N}`);
  const cache = join(dir, 'ids.json');
  if (existsSync(cache)) return JSON.parse(readFileSync(cache, 'utf8'));
  mkdirSync(dir, { recursive: true });
  const c = await makeCerts(dir, []);
  const started = Date.now();
  const ids = await agentIdentities(
    c.ca,
    Array.from({ length: N }, (_, i) => `storm-${i}`),
    (k) => k % 100 === 0 && say(`certificates ${k}/${N}`),
    ipOf,
  );
  say(`${N} certificates in ${Date.now() - started} ms (cached in ${dir})`);
  const out = { dir, caPem: c.caPem, ids: ids.map((id, i) => ({ name: `storm-${i}`, ip: ipOf(i), certPem: id.certPem, keyPem: id.keyPem })) };
  writeFileSync(cache, JSON.stringify(out));
  return out;
}

/** @returns {Promise<number>} */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });

/** @param {StormPki} pki @param {number} agentPort @param {number} metaPort */
function startServer(pki, agentPort, metaPort) {
  const p = (/** @type {string} */ n, /** @type {string} */ e) => join(pki.dir, `${n}.${e}`);
  const child = spawn(
    process.execPath,
    [
      SERVER_MAIN,
      '--agent-addr',
      `127.0.0.1:${agentPort}`,
      '--https-addr',
      '127.0.0.1:0',
      '--http-addr',
      '127.0.0.1:0',
      '--meta-addr',
      `127.0.0.1:${metaPort}`,
      '--cert',
      p('server', 'crt'),
      '--key',
      p('server', 'key'),
      '--agent-ca',
      p('ca', 'crt'),
      '--caller-ca',
      p('ca', 'crt'),
      '--kubelet-client-cert',
      p('kubelet-client', 'crt'),
      '--kubelet-client-key',
      p('kubelet-client', 'key'),
      '--log-level',
      'error',
      ...(MAX_HANDSHAKES === undefined ? [] : ['--max-agent-handshakes', String(MAX_HANDSHAKES)]),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return child;
}

/** @param {number} metaPort */
async function ready(metaPort, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${metaPort}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('server not ready');
}

/**
 * One emulated agent: the real agent's loop (spread after a lost session, else full jitter).
 * @param {StormId} id @param {StormCtx} ctx
 */
function agent(id, ctx) {
  /** @type {StormAgent} */
  const a = { id, up: false, attempts: 0, stop: false };
  // parsed once: a real agent pays for its PEM files in its own process, not in one shared event loop
  /** @type {tls.SecureContext | undefined} */
  let secureContext;
  /** @returns {Promise<import('@edge-tunnel/framing').Session | undefined>} */
  const dialOnce = () =>
    new Promise((resolve) => {
      ctx.dials.push(performance.now());
      secureContext ??= tls.createSecureContext({ ca: ctx.ca, cert: id.certPem, key: id.keyPem });
      const socket = tls.connect({ host: '127.0.0.1', port: ctx.port, secureContext, servername: 'localhost' });
      socket.setTimeout(10_000, () => socket.destroy());
      socket.on('error', () => {});
      /** @type {import('@edge-tunnel/framing').Session | undefined} */
      let session;
      const fail = () => (session?.destroy(), resolve(undefined));
      socket.once('close', fail);
      socket.once('secureConnect', () => {
        socket.setTimeout(0);
        session = new Session(socket, {
          role: 'client',
          hello: { nodeName: id.name, nodeIps: [id.ip], version: 1, agentVersion: 'storm' },
          keepaliveIntervalMs: 60_000,
          keepaliveTimeoutMs: 120_000,
        });
        session.on('error', () => {});
        session.ready.then(() => (socket.off('close', fail), resolve(session)), fail);
      });
    });
  a.done = (async () => {
    const backoff = new Backoff({ baseMs: BASE, maxMs: MAX, spreadMs: SPREAD });
    while (!a.stop) {
      const session = await dialOnce();
      if (session) {
        a.up = true;
        ctx.ups.push(performance.now());
        a.session = session;
        await /** @type {Promise<void>} */ (new Promise((r) => (session.destroyed ? r() : session.once('close', r))));
        a.up = false;
        backoff.sessionLost();
        if (a.stop) return;
      }
      await new Promise((r) => setTimeout(r, backoff.next()));
    }
  })();
  return a;
}

/** @param {StormAgent[]} agents @param {number} ms */
async function waitAll(agents, ms) {
  const deadline = performance.now() + ms;
  while (agents.some((a) => !a.up)) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** @param {number[]} times @param {number} from @param {number} to */
function buckets(times, from, to, width = 100) {
  const n = Math.max(1, Math.ceil((to - from) / width));
  const b = new Array(n).fill(0);
  for (const t of times) if (t >= from && t <= to) b[Math.min(n - 1, Math.floor((t - from) / width))] += 1;
  return b;
}

const pki = await certs();
const agentPort = await freePort();
const metaPort = await freePort();
let server = startServer(pki, agentPort, metaPort);
await ready(metaPort);
/** @type {StormCtx} */
const ctx = { port: agentPort, ca: pki.caPem, dials: [], ups: [] };
const t1 = performance.now();
const agents = pki.ids.map((id) => agent(id, ctx));
if (!(await waitAll(agents, 60_000))) throw new Error(`only ${agents.filter((a) => a.up).length}/${N} attached at start`);
say(`${N} agents attached in ${(performance.now() - t1).toFixed(0)} ms`);
await new Promise((r) => setTimeout(r, 500));

ctx.dials.length = 0;
ctx.ups.length = 0;
// this process's own stalls (every agent shares one event loop) lump reconnects into one bucket
const stalls = monitorEventLoopDelay({ resolution: 10 });
stalls.enable();
const killedAt = performance.now();
server.kill('SIGKILL');
await new Promise((r) => server.once('exit', r));
const spawnAt = performance.now();
server = startServer(pki, agentPort, metaPort);
const spawnMs = performance.now() - spawnAt;
await ready(metaPort);
const readyMs = performance.now() - killedAt;
const allBack = await waitAll(agents, DEADLINE);
const end = performance.now();
stalls.disable();
const back = agents.filter((a) => a.up).length;
const ups = ctx.ups.slice().sort((x, y) => x - y);
const lastUp = ups.at(-1) ?? end;
const first = ups[0] ?? end;
// reconnects per 100 ms from the first success to the last (the window the server was taking them)
const upBuckets = buckets(ups, first, lastUp);
// the same over the window in which 90 % came back (the long tail of a backoff stretches the full mean)
const p90 = ups[Math.max(0, Math.ceil(ups.length * 0.9) - 1)] ?? end;
const upBuckets90 = buckets(ups, first, Math.max(p90, first + 100));
const dialBuckets = buckets(ctx.dials, killedAt, lastUp);
const stat = (/** @type {number[]} */ b) => /** @type {BucketStat} */ ({ max: Math.max(...b), mean: b.reduce((s, x) => s + x, 0) / b.length });
/** the parts of /debug/tunnels read here */
const tunnels = /** @type {{ nodes?: { connected?: boolean }[] }} */ (
  await fetch(`http://127.0.0.1:${metaPort}/debug/tunnels`)
    .then((r) => r.json())
    .catch(() => ({ nodes: /** @type {{ connected?: boolean }[]} */ ([]) }))
);
// the restarted server's handshake pacing: cap, most in flight at once, connections that waited
const handshakes = /** @type {{ max?: number, peak?: number, paced?: number }} */ (
  await fetch(`http://127.0.0.1:${metaPort}/debug/agent-handshakes`)
    .then((r) => r.json())
    .catch(() => ({}))
);
/**
 * @typedef {{ agents: number, baseMs: number, maxMs: number, spreadMs: number, back: number, allBack: boolean, serverReadyMs: number,
 *   firstBackMs: number, allBackMs: number, p50BackMs: number, reconnectsPer100ms: BucketStat, reconnectsPer100msP90: BucketStat,
 *   p90BackMs: number, dialsPer100ms: BucketStat, dials: number, serverTunnels: number, emulatorStallMaxMs: number, spawnMs: number,
 *   handshakes: typeof handshakes, maxOverMean?: number, maxOverMeanP90?: number }} StormResult
 */
/** @type {StormResult} */
const result = {
  agents: N,
  baseMs: BASE,
  maxMs: MAX,
  spreadMs: SPREAD,
  back,
  allBack,
  serverReadyMs: Math.round(readyMs),
  firstBackMs: Math.round(first - killedAt),
  allBackMs: Math.round(lastUp - killedAt),
  p50BackMs: Math.round((ups[Math.floor(ups.length / 2)] ?? end) - killedAt),
  reconnectsPer100ms: stat(upBuckets),
  reconnectsPer100msP90: stat(upBuckets90),
  p90BackMs: Math.round(p90 - killedAt),
  dialsPer100ms: stat(dialBuckets),
  dials: ctx.dials.length,
  serverTunnels: (tunnels.nodes ?? []).filter((n) => n.connected !== false).length,
  emulatorStallMaxMs: Math.round(stalls.max / 1e6),
  spawnMs: Math.round(spawnMs),
  handshakes: { max: handshakes.max, peak: handshakes.peak, paced: handshakes.paced },
};
result.maxOverMean = +(result.reconnectsPer100ms.max / result.reconnectsPer100ms.mean).toFixed(2);
result.maxOverMeanP90 = +(result.reconnectsPer100msP90.max / result.reconnectsPer100msP90.mean).toFixed(2);

if (JSON_OUT) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  const rows = [
    ['agents', N],
    ['back', `${back}/${N}`],
    ['server ready after kill', `${result.serverReadyMs} ms`],
    ['first back after kill', `${result.firstBackMs} ms`],
    ['all back after kill', `${result.allBackMs} ms`],
    ['median back after kill', `${result.p50BackMs} ms`],
    ['reconnects / 100 ms (max / mean)', `${result.reconnectsPer100ms.max} / ${result.reconnectsPer100ms.mean.toFixed(1)} (×${result.maxOverMean})`],
    ['90 % back after kill', `${result.p90BackMs} ms`],
    [
      'reconnects / 100 ms until 90 % back (max / mean)',
      `${result.reconnectsPer100msP90.max} / ${result.reconnectsPer100msP90.mean.toFixed(1)} (×${result.maxOverMeanP90})`,
    ],
    ['dials / 100 ms (max / mean)', `${result.dialsPer100ms.max} / ${result.dialsPer100ms.mean.toFixed(1)}`],
    ['dials in total', result.dials],
    ['sessions on the server', result.serverTunnels],
    ['server TLS handshakes in flight (cap / peak / connections that waited)', `${handshakes.max} / ${handshakes.peak} / ${handshakes.paced}`],
    ['longest stall of this process (all agents share its event loop)', `${result.emulatorStallMaxMs} ms (restart spawn took ${result.spawnMs} ms)`],
    ['backoff', `first redial after the loss spread over ${SPREAD} ms, then full jitter, base ${BASE} ms, max ${MAX} ms`],
  ];
  say('| measure | value |\n| --- | --- |');
  for (const [k, v] of rows) say(`| ${k} | ${v} |`);
  say(`reconnects per 100 ms from the first (${result.firstBackMs} ms after the kill): ${upBuckets.join(' ')}`);
  say(`dials per 100 ms from the kill: ${dialBuckets.join(' ')}`);
}
for (const a of agents) a.stop = true;
for (const a of agents) a.session?.destroy();
const termAt = performance.now();
server.kill('SIGTERM');
const exited = await Promise.race([new Promise((r) => server.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 15_000))]);
if (!exited) server.kill('SIGKILL');
say(`server ${exited ? `exited ${Math.round(performance.now() - termAt)} ms after SIGTERM` : 'did not exit within 15 s of SIGTERM (killed)'}`);
process.exit(allBack ? 0 : 1);
