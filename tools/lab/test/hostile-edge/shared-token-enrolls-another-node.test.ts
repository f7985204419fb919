// Attack 2: every edge node holds the shared bootstrap token. Before the fix an attacker on edge-a
// enrolled as edge-b (the enroller checked only that a Node of that name existed), its session
// replaced edge-b's (newest wins) and took edge-b's traffic. Now, against real server and agent
// processes and the fake API server: the attacker's enrollment as edge-b gets 409 ALREADY_ENROLLED
// (edge-b holds an unexpired certificate on record), a server warn line says which operator action
// allows a re-enrollment; edge-b's session and traffic stay with the real agent. A cloud Node cannot
// be enrolled (403 NOT_EDGE_NODE), nor a node a per-node token does not name (403 TOKEN_NOT_FOR_NODE).
// Before the fix (main's enroller and listener, this file unchanged): 12 of 14 checks failed — the cloud
// Node and the wrong per-node token got certificates, the attacker got a certificate for edge-b and
// its session replaced the real one.
import t from 'tap';
import { eventually, httpGet, namedHttp, nodeObject, startCluster, writePki } from './fixtures/h3.js';
import { enrollingAgent, putBootstrapSecret, sessionOf } from './fixtures/h14.js';

const net = '127.0.160'; // h14's lab subnets: 160-169
const EDGE_A = `${net}.1`;
const EDGE_B = `${net}.2`;
const CLOUD = `${net}.9`;
const SHARED = 'shared-0123456789abcdef';

t.test('a holder of the shared token cannot enroll as another node, nor take its session', async (t) => {
  const pki = await writePki(t);
  await namedHttp(t, EDGE_B, 10255, 'edge-b');
  const cluster = await startCluster(t, pki, [
    ['nodes', nodeObject('edge-a', [EDGE_A])],
    ['nodes', nodeObject('edge-b', [EDGE_B])],
    ['nodes', nodeObject('cloud-1', [CLOUD], { 'node-role.kubernetes.io/control-plane': '' })],
  ]);
  putBootstrapSecret(cluster, { token: SHARED, 'token-a': 'only-edge-a-0123456789', 'nodes-a': 'edge-a' });

  // the other rules first, through the same real processes (one attempt each: the enrollment rate limit is per address)
  const cloud = await enrollingAgent(t, pki, cluster, 'cloud-1', CLOUD, SHARED, 10_000);
  t.ok(await eventually(() => cloud.logged('enrollment failed').length >= 1, 20_000));
  t.match(cloud.logged('enrollment failed')[0], { status: 403, code: 'NOT_EDGE_NODE' }, 'a cloud Node cannot be enrolled');
  await cloud.stop();
  const wrong = await enrollingAgent(t, pki, cluster, 'edge-b', EDGE_B, 'only-edge-a-0123456789', 10_000);
  t.ok(await eventually(() => wrong.logged('enrollment failed').length >= 1, 20_000));
  t.match(wrong.logged('enrollment failed')[0], { status: 403, code: 'TOKEN_NOT_FOR_NODE' }, 'a per-node token enrolls only its node');
  await wrong.stop();

  const real = await enrollingAgent(t, pki, cluster, 'edge-b', EDGE_B, SHARED);
  t.ok(await eventually(async () => (await sessionOf(cluster, 'edge-b')) !== undefined, 20_000), 'the real edge-b agent enrolled and attached');
  const liveSession = await sessionOf(cluster, 'edge-b');

  // the attack: an agent on edge-a with the same token, claiming edge-b
  const attacker = await enrollingAgent(t, pki, cluster, 'edge-b', EDGE_B, SHARED);
  t.ok(await eventually(() => attacker.logged('enrollment failed').length >= 2, 20_000), "the attacker's enrollment keeps failing");
  await attacker.stop();
  const failed = attacker.logged('enrollment failed')[0] ?? {};
  t.equal(failed['status'], 409, 'HTTP 409');
  t.equal(failed['code'], 'ALREADY_ENROLLED', 'code ALREADY_ENROLLED');
  const warn = cluster.server.logged('enrollment refused').find((l) => l['code'] === 'ALREADY_ENROLLED');
  t.match(
    warn,
    { nodeName: 'edge-b', reason: /edge-b already holds a certificate .*kubectl -n kube-system patch configmap edge-tunnel-enrollments/ },
    'a server warn line naming the operator action',
  );
  t.same(attacker.logged('certificate enrolled'), [], 'the attacker got no certificate');

  // edge-b's traffic stays with the real agent's session
  const proxy = `http://127.0.0.1:${cluster.ports.http}/healthz`;
  let ok = 0;
  for (let i = 0; i < 20; i += 1) if ((await httpGet(proxy, `${EDGE_B}:10255`)).body === 'edge-b\n') ok += 1;
  t.equal(ok, 20, '20 of 20 requests to edge-b answered by edge-b');
  t.equal(await sessionOf(cluster, 'edge-b'), liveSession, "edge-b's session was never replaced");
  t.equal(cluster.server.logged('agent session replaced: draining the old one').length, 0, 'no session replacement');

  // the operator action (edge-b reinstalled): clear the record; then a token enrolls edge-b again
  await real.stop();
  const cm = cluster.api.store.get('configmaps', 'kube-system', 'edge-tunnel-enrollments')!;
  const data = { ...(cm['data'] as Record<string, string>) };
  delete data['edge-b'];
  cluster.api.store.put('configmaps', { ...cm, data });
  const reinstalled = await enrollingAgent(t, pki, cluster, 'edge-b', EDGE_B, SHARED);
  t.ok(await eventually(() => reinstalled.logged('certificate enrolled').length === 1, 20_000), 're-enrolled after the operator cleared the record');
});
