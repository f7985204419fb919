// Cluster mode: each replica holds Lease edge-tunnel-server-<id> (label, holder, advertise-addr
// annotation), the replicas see each other through those Leases, ignore expired ones, and drop a
// replica whose Lease is deleted on shutdown. With peers, /readyz waits for the edge Nodes' agents.
import t from 'tap';
import { ReplicaLease } from '@edge-tunnel/kube';
import { connectAgent, meta, waitFor } from './fixtures/harness.js';
import { NS, nodeObject, startApi, startClusterServer } from './fixtures/cluster.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const fast = { replicaLease: { leaseDurationSeconds: 2, renewIntervalMs: 150 } };
const ids = (s: { handle: { replicas: { current(): Array<{ id: string }> } } }): string[] => s.handle.replicas.current().map((r) => r.id).sort();

t.test('replicas find each other through their Leases and drop a stopped or expired one', async (t) => {
  const api = await startApi(t);
  // a Lease left behind by a killed replica long ago: never live
  api.api.store.put('leases', {
    metadata: { name: 'edge-tunnel-server-r0', namespace: NS, labels: { [ReplicaLease.LABEL]: ReplicaLease.COMPONENT }, annotations: { [ReplicaLease.ADDR_ANNOTATION]: '127.0.0.1:9' } },
    spec: { holderIdentity: 'r0', leaseDurationSeconds: 2, renewTime: new Date(Date.now() - 60_000).toISOString() },
  });
  const r1 = await startClusterServer(t, pki, api, ['--server-id', 'r1'], fast);
  const r2 = await startClusterServer(t, pki, api, ['--server-id', 'r2'], fast);
  await waitFor(() => ids(r1).join() === 'r1,r2' && ids(r2).join() === 'r1,r2', 5000, 'both replicas see each other');
  const lease = api.api.store.get('leases', NS, 'edge-tunnel-server-r2') as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { holderIdentity: string } };
  t.equal(lease.spec.holderIdentity, 'r2');
  t.equal(lease.metadata.labels[ReplicaLease.LABEL], ReplicaLease.COMPONENT);
  t.equal(lease.metadata.annotations[ReplicaLease.ADDR_ANNOTATION], `127.0.0.1:${r2.addr.agent.port}`);
  const debug = (await meta(r1, '/debug/replicas')).json() as { replicas: Array<{ id: string; addr: string }> };
  t.equal(debug.replicas.find((r) => r.id === 'r2')?.addr, `127.0.0.1:${r2.addr.agent.port}`, '/debug/replicas lists r2 at its address');

  // an agent of r1 is told about the change on its control stream as soon as r2 leaves
  await r2.handle.close();
  t.equal(api.api.store.get('leases', NS, 'edge-tunnel-server-r2'), undefined, 'the Lease is deleted on close');
  await waitFor(() => ids(r1).join() === 'r1', 3000, 'r1 drops r2');
  t.pass('r2 dropped');
});

t.test('with peers, /readyz waits for the agents of the edge Nodes', async (t) => {
  const api = await startApi(t);
  const r1 = await startClusterServer(t, pki, api, ['--server-id', 'r1'], fast);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.30.1']));
  const r2promise = startClusterServer(t, pki, api, ['--server-id', 'r2'], fast);
  await waitFor(() => ids(r1).length === 2, 5000, 'r1 sees r2');
  await waitFor(() => r1.handle.registry.tunnels().length === 1, 5000, 'edge-a known');
  const res = await meta(r1, '/readyz');
  t.equal(res.status, 503, 'a replica with peers is not ready without the edge Node\'s agent');
  t.match(res.body, /waiting for agents edge-a/);
  await connectAgent(t, pki, r1, 'edge-a', ['127.0.30.1']);
  await waitFor(() => r1.handle.registry.get('edge-a') !== undefined, 3000, 'edge-a attached');
  t.equal((await meta(r1, '/readyz')).status, 200);
  const r2 = await Promise.race([r2promise.then(() => 'ready'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
  t.equal(r2, 'waiting', 'r2 waits too: edge-a has no session there');
  // r2's handle is not out yet: dial it through its Lease's advertised address
  const addr = (api.api.store.get('leases', NS, 'edge-tunnel-server-r2') as { metadata: { annotations: Record<string, string> } }).metadata.annotations[ReplicaLease.ADDR_ANNOTATION]!;
  const port = Number(addr.split(':')[1]);
  await connectAgent(t, pki, { ...r1, addr: { ...r1.addr, agent: { host: '127.0.0.1', port } } }, 'edge-a', ['127.0.30.1']);
  const server2 = await r2promise;
  t.equal((await meta(server2, '/readyz')).status, 200, 'r2 ready once edge-a has a session there');
});
