// Sizes of /metrics and /debug/tunnels at N attached (fake) sessions, per-node series on and off:
//   node perf/ab/bounded-views.mjs [nodes=10000]
import { once } from 'node:events';
import { AgentRegistry } from '../../apps/server/dist/agents/registry.js';
import { createMetaServer } from '../../apps/server/dist/meta.js';
import { ServerMetrics } from '../../apps/server/dist/metrics.js';
import { StaticPortConfigSource } from '../../apps/server/dist/port-config-source.js';
const N = Number(process.argv[2] ?? 10000);
const registry = new AgentRegistry();
for (let i = 0; i < N; i++) {
  const session = /** @type {any} */ ({
    rttMs: 1 + i / N,
    streams: new Map(),
    stats: () => ({ streams: 0, bytesIn: 123456, bytesOut: 654321, rttMs: 1.234, ageMs: 123456 }),
  });
  registry.attach({
    sessionId: `0123456789abcdef${i}`,
    nodeName: `edge-node-${i}`,
    nodeIps: [`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`],
    agentVersion: '0.1.0',
    remoteAddress: '10.1.2.3:45678',
    connectedAt: 0,
    ports: {},
    session,
  });
}
for (const perNode of [true, false]) {
  const meta = createMetaServer({ registry, metrics: new ServerMetrics(registry, { perNode }), portConfig: new StaticPortConfigSource(), ready: () => true });
  meta.listen(0, '127.0.0.1');
  await once(meta, 'listening');
  const base = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (meta.address()).port}`;
  const size = async (/** @type {string} */ p) => (await (await fetch(base + p)).text()).length;
  console.log(
    `perNode=${perNode}: /metrics ${await size('/metrics')} B; /debug/tunnels ${await size('/debug/tunnels')} B; ?limit=1000 ${await size('/debug/tunnels?limit=1000')} B; ?node=edge-node-77 ${await size('/debug/tunnels?node=edge-node-77')} B`,
  );
  meta.close();
}
