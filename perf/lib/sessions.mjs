// Memory per idle agent session: one edge-tunnel server, N emulated agents (swarm.mjs, one process,
// each with its own certificate), server RSS and heap before and after.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentIdentities } from './certs.mjs';
import { spawnProc } from './procs.mjs';
import { LIB, stopAll } from './chains/util.mjs';
import { startServer, waitUntil, httpGet } from './chains/edge-tunnel.mjs';

export async function agentSessions(env, n, progress) {
  const ids = await agentIdentities(env.certs.ca, Array.from({ length: n }, (_, i) => `swarm-${i}`), (k) => progress(`certificates ${k}/${n}`), ipOf);
  const procs = [];
  try {
    const server = await startServer(env, { compression: true, tag: 'sessions', procs });
    await new Promise((r) => setTimeout(r, 300));
    const before = await server.proc.probe(true);
    progress(`${n} agent sessions`);
    const swarmFile = join(env.tmp, 'swarm.json');
    writeFileSync(swarmFile, JSON.stringify({ host: '127.0.0.1', port: server.agent, ca: env.certs.caPem, identities: ids.map((id, i) => ({ name: `swarm-${i}`, ip: ipOf(i), certPem: id.certPem, keyPem: id.keyPem })) }));
    const swarm = spawnProc('swarm', `${LIB}/swarm.mjs`, [], {
      node: true,
      env: { PERF_SWARM: swarmFile },
    });
    procs.push({ role: 'swarm', proc: swarm, measured: false });
    const res = await swarm.message(120_000);
    await waitUntil('the server to list the sessions', async () => {
      const r = await httpGet(`http://127.0.0.1:${server.meta}/debug/tunnels`);
      return r?.status === 200 && r.body.includes(`"swarm-${n - 1}"`);
    }, 30_000).catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    const after = await server.proc.probe(true);
    return {
      sessions: res.up,
      failed: res.failed,
      firstError: res.firstError,
      rssPerSession: res.up ? (after.rss - before.rss) / res.up : undefined,
      heapPerSession: res.up ? (after.heapUsed - before.heapUsed) / res.up : undefined,
    };
  } finally {
    await stopAll(procs);
  }
}

export const ipOf = (i) => `127.51.${Math.floor(i / 250)}.${(i % 250) + 1}`;
