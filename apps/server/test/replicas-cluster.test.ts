// Cluster mode: the replicas are the endpoints of the Service agents dial, read from its
// EndpointSlices. The fake API server has no controllers, so the test writes the slices the endpoints
// controller would write. Not-ready endpoints are replicas, terminating and removed ones are not; a
// real agent process that reaches one replica ends up with a session to every replica, and a
// replica with peers turns ready only once the edge Node's agent has a session there.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReplicaEndpoints } from '@edge-tunnel/kube';
import type { Test } from 'tap';
import { meta, startServer, waitFor } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';
import { NS, caSecret, nodeObject, startApi, startClusterServer, until } from './fixtures/cluster.js';
import type { TestApi } from './fixtures/cluster.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const ids = (s: TestServer): string =>
  s.handle.replicas
    .current()
    .map((r) => r.id)
    .sort()
    .join();

/**
 * The slice of Service edge-tunnel-server holding one server pod. Here every pod's `agent` port has
 * another number (all listen on 127.0.0.1), and the endpoints controller groups endpoints by port:
 * one slice per pod.
 */
function putEndpoint(api: TestApi, id: string, server: TestServer, conditions: { ready: boolean; terminating?: boolean }): void {
  const terminating = conditions.terminating ?? false;
  api.api.store.put('endpointslices', {
    metadata: { name: `edge-tunnel-server-${id}`, namespace: NS, labels: { [ReplicaEndpoints.SERVICE_LABEL]: ReplicaEndpoints.DEFAULT_SERVICE } },
    addressType: 'IPv4',
    ports: [{ name: ReplicaEndpoints.DEFAULT_PORT_NAME, port: server.addr.agent.port, protocol: 'TCP' }],
    endpoints: [
      {
        addresses: ['127.0.0.1'],
        conditions: { ready: conditions.ready, serving: !terminating, terminating },
        targetRef: { kind: 'Pod', namespace: NS, name: id },
      },
    ],
  });
}

/** A replica in cluster mode whose handle is out before it is ready (startClusterServer waits for ready). */
async function unreadyReplica(t: Test, api: TestApi, id: string): Promise<TestServer> {
  if (api.api.store.get('secrets', NS, 'edge-tunnel-ca') === undefined) api.api.store.put('secrets', caSecret(pki));
  return startServer(t, pki, ['--kubeconfig', api.kubeconfig, '--server-id', id]);
}

/** The real agent (apps/agent) as a process, dialing `port` as if the load balancer had picked it. */
async function startRealAgent(t: Test, nodeName: string, ip: string, port: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'et-agent-'));
  const cert = await pki.agent(nodeName, [ip]);
  writeFileSync(join(dir, 'agent.crt'), cert.certPem);
  writeFileSync(join(dir, 'agent.key'), cert.keyPem);
  writeFileSync(join(dir, 'ca.crt'), pki.agentCa.certPem);
  const main = fileURLToPath(new URL('../../agent/dist/main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      main,
      '--server',
      `127.0.0.1:${port}`,
      '--server-name',
      'localhost',
      '--node-name',
      nodeName,
      '--node-ip',
      ip,
      '--cert',
      join(dir, 'agent.crt'),
      '--key',
      join(dir, 'agent.key'),
      '--ca',
      join(dir, 'ca.crt'),
      '--meta-addr',
      '127.0.0.1:0',
      '--backoff-base-ms',
      '100',
      '--backoff-max-ms',
      '1000',
      '--drain-timeout-ms',
      '500',
      '--log-level',
      'debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  for (const out of [child.stdout, child.stderr]) out.setEncoding('utf8').on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean)));
  t.teardown(async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return lines;
}

t.test('the endpoints of the agent Service are the replicas: not-ready ones count, terminating and removed ones do not', async (t) => {
  const api = await startApi(t);
  const r1 = await startClusterServer(t, pki, api, ['--server-id', 'r1']);
  const r2 = await startClusterServer(t, pki, api, ['--server-id', 'r2']);
  t.equal(ids(r1), 'r1', 'alone until the endpoints appear');
  putEndpoint(api, 'r1', r1, { ready: true });
  putEndpoint(api, 'r2', r2, { ready: false });
  await waitFor(() => ids(r1) === 'r1,r2' && ids(r2) === 'r1,r2', 5000, 'both replicas see each other');
  const debug = (await meta(r1, '/debug/replicas')).json() as { replicas: Array<{ id: string; addr: string }> };
  t.equal(debug.replicas.find((r) => r.id === 'r2')?.addr, `127.0.0.1:${r2.addr.agent.port}`, '/debug/replicas lists the not-ready r2 at its endpoint');

  putEndpoint(api, 'r2', r2, { ready: false, terminating: true });
  await waitFor(() => ids(r1) === 'r1', 3000, 'r1 drops the terminating r2');
  t.equal(ids(r2), 'r1,r2', 'a draining replica keeps itself and its peers');

  putEndpoint(api, 'r2', r2, { ready: true });
  await waitFor(() => ids(r1) === 'r1,r2', 3000, 'r2 back');
  api.api.store.delete('endpointslices', NS, 'edge-tunnel-server-r2');
  await waitFor(() => ids(r1) === 'r1', 3000, 'r1 drops the removed r2');
  const cluster = (await meta(r1, '/debug/cluster')).json() as { replicas: Array<{ id: string }> };
  t.same(
    cluster.replicas.map((r) => r.id),
    ['r1'],
    '/debug/cluster agrees',
  );
});

t.test('a real agent that reaches one replica gets a session to every replica; each turns ready only then', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.30.1']));
  const r1 = await unreadyReplica(t, api, 'r1');
  const r2 = await unreadyReplica(t, api, 'r2');
  // just started: neither pod is ready, both are endpoints
  putEndpoint(api, 'r1', r1, { ready: false });
  putEndpoint(api, 'r2', r2, { ready: false });
  await waitFor(() => ids(r1) === 'r1,r2' && ids(r2) === 'r1,r2', 5000, 'both replicas see each other');
  await until(async () => /waiting for agents edge-a/.test((await meta(r1, '/readyz')).body), 'r1 waits for edge-a');
  t.equal((await meta(r2, '/readyz')).status, 503, "r2 waits too: with a peer, a replica is ready only with the edge Node's agent");

  const agentLog = await startRealAgent(t, 'edge-a', '127.0.30.1', r1.addr.agent.port);
  try {
    await waitFor(() => r1.handle.registry.get('edge-a') !== undefined && r2.handle.registry.get('edge-a') !== undefined, 15_000, 'edge-a on both replicas');
    await until(async () => (await meta(r1, '/readyz')).status === 200 && (await meta(r2, '/readyz')).status === 200, 'both ready', 5000);
  } catch (err) {
    t.comment(agentLog.slice(-30).join('\n'));
    throw err;
  }
  t.pass('edge-a has a session on r1 (through the "load balancer") and on r2 (at the address r1 announced); both ready');
});
