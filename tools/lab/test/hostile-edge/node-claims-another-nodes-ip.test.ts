// Attack 5: a kubelet edits its own Node's addresses to list another edge node's InternalIP, or a
// cloud node's. Before the fix the later name won the IP (edge-z took edge-b's 10255 traffic, and the
// iptables capture DNATed the cloud node's IP into the tunnel). Now an IP listed by two Nodes is
// routed to neither: 502 NODE_UNKNOWN, a warn line, a Warning Event NodeIpConflict on each Node,
// `ipConflicts` on /debug/cluster; and it is left out of the capture, which is fed from the node
// table (cluster.ts, capturable()): apps/server/test/cluster-capture-contested.test.ts checks the real
// nat table for it.
import t from 'tap';
import { eventually, httpGet, namedHttp, nodeObject, startCluster, writePki } from './fixtures/h3.js';

const net = '127.0.212'; // h3's lab subnets: 211-215
const EDGE_B = `${net}.2`;
const EDGE_Z = `${net}.26`;
const CLOUD = `${net}.9`;

t.test("an edge Node listing another Node's IP gets no traffic for it, nor does the other", async (t) => {
  const pki = await writePki(t);
  await namedHttp(t, EDGE_B, 10255, 'edge-b');
  await namedHttp(t, CLOUD, 10255, 'cloud-1');
  const cluster = await startCluster(t, pki, [
    ['nodes', nodeObject('edge-b', [EDGE_B])],
    ['nodes', nodeObject('edge-z', [EDGE_Z])],
    ['nodes', nodeObject('cloud-1', [CLOUD], { 'node-role.kubernetes.io/control-plane': '' })],
  ]);
  await cluster.agent('edge-b', EDGE_B);
  await cluster.agent('edge-z', EDGE_Z);
  const proxy = `http://127.0.0.1:${cluster.ports.http}/stats/summary`;
  t.ok(
    await eventually(async () => (await cluster.meta('/debug/tunnels'))?.nodes.filter((n: any) => n.connected).length === 2, 20_000),
    'both agents attached',
  );
  const before = await httpGet(proxy, `${EDGE_B}:10255`);
  t.equal(before.status, 200, 'edge-b is reachable while its IP is its own');

  // the attack: edge-z's kubelet adds edge-b's and the cloud node's IPs to its own Node
  cluster.api.store.put('nodes', nodeObject('edge-z', [EDGE_Z, EDGE_B, CLOUD]));
  t.ok(await eventually(async () => ((await cluster.meta('/debug/cluster'))?.ipConflicts ?? []).length === 2, 10_000), '/debug/cluster lists both conflicts');
  const status = await cluster.meta('/debug/cluster');
  t.same(status.ipConflicts, [
    { ip: EDGE_B, nodes: ['edge-b', 'edge-z'] },
    { ip: CLOUD, nodes: ['cloud-1', 'edge-z'] },
  ]);

  for (const ip of [EDGE_B, CLOUD]) {
    const r = await httpGet(proxy, `${ip}:10255`);
    t.equal(r.status, 502, `${ip}: refused for every claimant`);
    t.equal(r.headers['x-tunnel-error'], 'NODE_UNKNOWN', ip);
  }
  const toZ = cluster.server.logged('audit').filter((a) => a['nodeName'] === 'edge-z');
  t.same(toZ, [], 'no request was relayed to edge-z');
  t.ok(cluster.server.logged('node ip conflict: refused for every claimant').length >= 2, 'warn lines');
  const events = (cluster.api.store.list('events') as Array<Record<string, any>>).filter((e) => e['reason'] === 'NodeIpConflict');
  t.same(
    [...new Set(events.map((e) => e['involvedObject']?.name ?? e['regarding']?.name))].sort(),
    ['cloud-1', 'edge-b', 'edge-z'],
    'a Warning Event on every Node involved',
  );

  // the kubelet drops the addresses again: edge-b gets its IP back
  cluster.api.store.put('nodes', nodeObject('edge-z', [EDGE_Z]));
  t.ok(await eventually(async () => ((await cluster.meta('/debug/cluster'))?.ipConflicts ?? [1]).length === 0, 10_000), 'conflicts resolved');
  t.equal((await httpGet(proxy, `${EDGE_B}:10255`)).status, 200, 'edge-b reachable by IP again');
});
