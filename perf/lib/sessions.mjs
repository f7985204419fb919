// Memory per idle agent session: N emulated agents (swarm.mjs, one process, each with its own
// certificate) against one server, its RSS and heap before and after. The same swarm meets two
// servers: the edge-tunnel server (each agent says its framing hello and stays) and, as the floor,
// a bare Node mutual-TLS server (tls-floor.mjs: what Node + OpenSSL cost per connection before any
// tunnel code runs; its row is the `tls-relay` column, Node's TLS without a mux).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentIdentities } from './certs.mjs';
import { census, diffCensus } from './heap-census.mjs';
import { spawnProc } from './procs.mjs';
import { LIB, spawnHelper, stopAll } from './chains/util.mjs';
import { startServer, waitUntil, httpGet } from './chains/edge-tunnel.mjs';

/** @typedef {import('./chains/index.mjs').Env} Env */
/** @typedef {import('./chains/util.mjs').ProcEntry} ProcEntry */
/**
 * A server under the swarm: its process, the port agents dial, and `settled(n)`: resolves once it lists n sessions.
 * @typedef {{ proc: import('./procs.mjs').Proc, port: number, settled: (n: number) => Promise<void> }} SwarmTarget
 */

/**
 * { 'tls-relay': floor row, 'edge-tunnel': row }; `snapshots`: a directory for heap snapshots
 * @param {Env} env @param {number} n @param {import('./scenarios.mjs').Progress} progress @param {string | undefined} snapshots
 * @returns {Promise<Record<string, import('./scenarios.mjs').Row>>}
 */
export async function agentSessions(env, n, progress, snapshots) {
  const ids = await agentIdentities(
    env.certs.ca,
    Array.from({ length: n }, (_, i) => `swarm-${i}`),
    (k) => progress(`certificates ${k}/${n}`),
    ipOf,
  );
  const identities = ids.map((id, i) => ({ name: `swarm-${i}`, ip: ipOf(i), certPem: id.certPem, keyPem: id.keyPem }));
  const run = (/** @type {string} */ name, /** @type {(env: Env, procs: ProcEntry[]) => Promise<SwarmTarget>} */ start, /** @type {boolean} */ bare) =>
    underSwarm(env, { name, identities, bare, snapshots, progress }, start);
  return {
    'tls-relay': await run('tls-floor', startFloor, true),
    'edge-tunnel': await run('edge-tunnel', startEdgeTunnel, false),
  };
}

/**
 * The bare mTLS server; `settled()` has nothing to wait for (the swarm saw every echo).
 * @param {Env} env @param {ProcEntry[]} procs @returns {Promise<SwarmTarget>}
 */
async function startFloor(env, procs) {
  const { certs } = env;
  const cfg = { cert: certs.path('server', 'crt'), key: certs.path('server', 'key'), ca: certs.path('ca', 'crt') };
  const { proc, port } = await spawnHelper('tls-floor', 'tls-floor.mjs', [], { PERF_FLOOR: JSON.stringify(cfg) });
  procs.push({ role: 'server', proc, measured: true });
  return { proc, port, settled: async () => {} };
}

/** @param {Env} env @param {ProcEntry[]} procs @returns {Promise<SwarmTarget>} */
async function startEdgeTunnel(env, procs) {
  const server = await startServer(env, { compression: true, tag: 'sessions', procs });
  const settled = (/** @type {number} */ n) =>
    waitUntil(
      'the server to list the sessions',
      async () => {
        // paged by default (100 nodes): ask for the last swarm node by name
        const r = await httpGet(`http://127.0.0.1:${server.meta}/debug/tunnels?node=swarm-${n - 1}`);
        return r?.status === 200 && r.body.includes(`"swarm-${n - 1}"`);
      },
      30_000,
    ).catch(() => {});
  return { proc: server.proc, port: server.agent, settled };
}

/**
 * @param {Env} env
 * @param {{ name: string, identities: import('./swarm.mjs').SwarmIdentity[], bare: boolean, snapshots?: string, progress: import('./scenarios.mjs').Progress }} opts
 * @param {(env: Env, procs: ProcEntry[]) => Promise<SwarmTarget>} start
 */
async function underSwarm(env, { name, identities, bare, snapshots, progress }, start) {
  /** @type {ProcEntry[]} */
  const procs = [];
  const snap = (/** @type {string} */ when) => (snapshots ? join(snapshots, `sessions-${name}-${when}.heapsnapshot`) : undefined);
  try {
    const server = await start(env, procs);
    await new Promise((r) => setTimeout(r, 300));
    const before = await server.proc.probe(true, snap('before'));
    progress(`${identities.length} agent sessions → ${name}`);
    const swarmFile = join(env.tmp, `swarm-${name}.json`);
    writeFileSync(swarmFile, JSON.stringify({ host: '127.0.0.1', port: server.port, ca: env.certs.caPem, bare, identities }));
    const swarm = spawnProc('swarm', `${LIB}/swarm.mjs`, [], { node: true, env: { PERF_SWARM: swarmFile } });
    procs.push({ role: 'swarm', proc: swarm, measured: false });
    /** @type {import('./swarm.mjs').SwarmResult} */
    const res = await swarm.message(120_000 + identities.length * 100);
    await server.settled(identities.length);
    await new Promise((r) => setTimeout(r, 500));
    const after = await server.proc.probe(true, snap('after'));
    const per = (/** @type {number} */ a, /** @type {number} */ b) => (res.up ? (a - b) / res.up : undefined);
    return {
      sessions: res.up,
      failed: res.failed,
      firstError: res.firstError,
      rssPerSession: per(after.rss, before.rss),
      heapPerSession: per(after.heapUsed, before.heapUsed),
      externalPerSession: per(after.external, before.external),
      ...(snapshots && res.up ? { census: diffCensus(census(snap('before')), census(snap('after')), res.up, 15) } : {}),
    };
  } finally {
    await stopAll(procs);
  }
}

export const ipOf = (/** @type {number} */ i) => `127.51.${Math.floor(i / 250)}.${(i % 250) + 1}`;
