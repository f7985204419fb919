// Cluster mode, the operator's flow: the ConfigMap is the only knob. The brief's ConfigMap
// (`dnat-ports-pair: '9051=10264,9052=10264'`) with real agent processes started with no
// --allow-ports; 9053 added to the ConfigMap alone is reachable with no agent restart, and an agent
// whose node keeps an --allow-ports ceiling gets 403 AGENT_CEILING for it plus a PortsRefusedByAgent
// Event on its Node. Node IPs 127.0.140.5-6 (this suite's loopback range).
import { createServer } from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { send, waitFor } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';
import { NS, eventsWithReason, nodeObject, portConfigMap, startApi, startClusterServer, until } from './fixtures/cluster.js';
import { testPki } from './fixtures/pki.js';
import { agentBuilt, startRealAgent } from './fixtures/real-agent.js';

const pki = await testPki();
t.setTimeout(90_000);

async function listen(t: Test, host: string, port: number): Promise<void> {
  const server = createServer((_req, res) => res.end(`${host}:${port}\n`));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

const get = (server: TestServer, host: string, port: number) => send(server.addr.http, { headers: { host: `${host}:${port}` } });

t.test(
  'the ConfigMap alone opens 9053 on every following agent; a node ceiling refuses it visibly',
  { skip: agentBuilt() ? false : 'apps/agent is not built' },
  async (t) => {
    const [a, b] = ['127.0.140.5', '127.0.140.6'];
    for (const ip of [a, b]) for (const port of [9051, 9052, 9053]) await listen(t, ip, port);
    const api = await startApi(t);
    api.api.store.put('nodes', nodeObject('edge-c', [a]));
    api.api.store.put('nodes', nodeObject('edge-d', [b]));
    api.api.store.put('configmaps', portConfigMap({ 'dnat-ports-pair': '9051=10264,9052=10264' }));
    const server = await startClusterServer(t, pki, api);
    const follower = await startRealAgent(t, pki, 'edge-c', a, server.addr.agent.port);
    await startRealAgent(t, pki, 'edge-d', b, server.addr.agent.port, ['--allow-ports', '9051,9052']);
    await waitFor(() => ['edge-c', 'edge-d'].every((n) => server.handle.registry.get(n)?.ports.rev !== undefined), 15_000, 'both agents attached and told');
    t.equal((await get(server, a, 9051)).status, 200, "the brief's flow: 9051 on the node IP");
    t.equal((await get(server, b, 9052)).status, 200);
    t.equal((await get(server, a, 9053)).headers['x-tunnel-error'], 'PORT_NOT_CONFIGURED', '9053 not configured yet');

    const changed = performance.now();
    api.api.store.put('configmaps', portConfigMap({ 'dnat-ports-pair': '9051=10264,9052=10264,9053=10264' }));
    await until(async () => (await get(server, a, 9053)).status === 200, '9053 reachable through edge-c');
    const liveMs = performance.now() - changed;
    t.ok(liveMs < 5_000, `9053 live ${Math.round(liveMs)} ms after the ConfigMap changed, no DaemonSet edit, no restart`);
    t.ok(
      follower.lines.some((l) => l['msg'] === 'server port config applied' && /9051-9053/.test(String(l['allowed']))),
      'the agent says what it now allows',
    );

    const refused = await get(server, b, 9053);
    t.equal(refused.status, 403);
    t.equal(refused.headers['x-tunnel-error'], 'AGENT_CEILING');
    await until(() => eventsWithReason(api, 'PortsRefusedByAgent').length > 0, 'PortsRefusedByAgent Event');
    const event = eventsWithReason(api, 'PortsRefusedByAgent')[0]!;
    t.match(event, {
      type: 'Warning',
      involvedObject: { kind: 'Node', name: 'edge-d' },
      message: /node ports 9053 are above its --allow-ports ceiling \(add them to EDGE_TUNNEL_ALLOW_PORTS on the node/,
    });
    t.equal(eventsWithReason(api, 'PortsRefusedByAgent').filter((e) => e['involvedObject']['name'] === 'edge-c').length, 0, 'none for the following node');
    t.equal(api.api.store.get('configmaps', NS, 'edge-tunnel-server-cfg') !== undefined, true);
  },
);
