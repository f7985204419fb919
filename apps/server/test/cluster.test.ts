// Cluster mode against the fake API server: edge Nodes feed the node table and admit agents, the
// port ConfigMap applies live (rejections → Event + warn + /debug/config), kubelet pod paths route by
// pod lookup, enrollment signs with the CA Secret.
import { connect as tlsConnect } from 'node:tls';
import { request as httpRequest } from 'node:http';
import { createCsr } from '@edge-tunnel/pki';
import t from 'tap';
import { AgentAlpn } from '../src/agents/enroll.js';
import { NS, eventsWithReason, nodeObject, portConfigMap, startApi, startClusterServer, until } from './fixtures/cluster.js';
import { connectAgent, meta, send, startNode, waitAttached, waitFor } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
// generous: the machine is shared and each file pays for loading client-node
t.setTimeout(120_000);
const NO_CAPTURE = ['--capture', 'none'];

const callerTls = { cert: pki.caller.certPem, key: pki.caller.keyPem, ca: pki.agentCa.certPem };

t.test('edge Nodes admit agents and route; a relabelled Node loses its session and gets NODE_UNKNOWN', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.20.1']));
  api.api.store.put('nodes', nodeObject('cloud-1', ['127.0.20.9'], { 'node-role.kubernetes.io/control-plane': '' }));
  const server = await startClusterServer(t, pki, api, NO_CAPTURE);
  t.same(
    server.handle.registry.tunnels().map((n) => [n.nodeName, n.nodeIps, n.connected]),
    [['edge-a', ['127.0.20.1'], false]],
    'node table = edge Nodes',
  );
  t.equal((await send(server.addr.http, { path: '/healthz', headers: { host: '127.0.20.1:10255' } })).status, 503, 'known node, no agent yet');

  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  const ok = await send(server.addr.http, { path: '/healthz', headers: { host: '127.0.20.1:10255' } });
  t.equal(ok.status, 200, 'routed by IP');
  t.equal((await send(server.addr.http, { path: '/healthz', headers: { host: 'edge-a:10255' } })).status, 200, 'routed by name');

  // an agent whose node is no edge Node, and one claiming an IP the Node does not have
  const cloud = await connectAgent(t, pki, server, 'cloud-1', ['127.0.20.9']);
  await waitFor(() => cloud.goaways.length > 0, 2000, 'GOAWAY to the cloud agent');
  t.match(cloud.goaways[0], {
    code: 'REFUSED',
    reason: /node cloud-1 is not an edge Node: no Node of that name matches 'alibabacloud.com\/is-edge-worker=true' or 'openyurt.io\/is-edge-worker=true'/,
  });
  const liar = await connectAgent(t, pki, server, 'edge-a', ['127.0.20.1', '127.0.20.7']);
  await waitFor(() => liar.goaways.length > 0, 2000, 'GOAWAY to the IP liar');
  t.match(liar.goaways[0], { code: 'REFUSED', reason: /claims IP 127\.0\.20\.7, which is not an InternalIP of Node edge-a/ });
  t.equal(server.handle.registry.get('edge-a')?.remoteAddress, `${node.agent.socket.localAddress}:${node.agent.socket.localPort}`, 'the good session stays');
  await until(() => eventsWithReason(api, 'AgentRefused').length >= 2, 'AgentRefused events');
  t.match(
    eventsWithReason(api, 'AgentRefused')
      .map((e) => e['involvedObject']['name'])
      .sort(),
    ['cloud-1', 'edge-a'],
    'Events on the Nodes',
  );

  // relabel: no selector matches any more
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.20.1'], {}));
  await waitFor(() => node.agent.session.destroyed, 3000, 'session of the relabelled node closed');
  t.match(node.agent.goaways[0], { code: 'REFUSED', reason: 'node edge-a is no longer an edge Node' });
  const gone = await send(server.addr.http, { path: '/healthz', headers: { host: '127.0.20.1:10255' } });
  t.equal(gone.status, 502);
  t.equal(gone.headers['x-tunnel-error'], 'NODE_UNKNOWN');
  t.equal(server.handle.registry.table.size, 0);

  // labelled again (the OpenYurt label counts too): a new agent attaches
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.20.1'], { 'openyurt.io/is-edge-worker': 'true' }));
  await waitFor(() => server.handle.registry.table.size === 1, 3000, 'node back');
  const again = await connectAgent(t, pki, server, 'edge-a', ['127.0.20.1'], { portMap: { 10255: node.kubelet.httpPort } });
  await waitAttached(server, 'edge-a', again);
  t.equal((await send(server.addr.http, { path: '/healthz', headers: { host: '127.0.20.1:10255' } })).status, 200, 'routes again');
});

t.test('the port ConfigMap applies live; a bad entry → Event, warn, /debug/config, good entries stay', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.20.1']));
  const server = await startClusterServer(t, pki, api, NO_CAPTURE);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  // a second agent (replacing the first) maps 9051 → the kubelet's read-only port
  const agent = await connectAgent(t, pki, server, 'edge-a', ['127.0.20.1'], { portMap: { 9051: node.kubelet.httpPort, 10255: node.kubelet.httpPort } });
  await waitAttached(server, 'edge-a', agent);
  const get9051 = (): ReturnType<typeof send> => send(server.addr.http, { path: '/healthz', headers: { host: '127.0.20.1:9051' } });
  t.equal((await get9051()).headers['x-tunnel-error'], 'PORT_NOT_CONFIGURED', 'no ConfigMap: built-in ports only');

  api.api.store.put('configmaps', portConfigMap({ 'dnat-ports-pair': '9051=10264' }));
  await until(async () => (await get9051()).status === 200, 'port 9051 opened live');
  const rv1 = api.api.store.get('configmaps', NS, 'edge-tunnel-server-cfg')!.metadata.resourceVersion;
  t.match((await meta(server, '/debug/config')).json(), { source: 'configmap kube-system/edge-tunnel-server-cfg', resourceVersion: rv1, rejected: [] });

  api.api.store.put('configmaps', portConfigMap({ 'dnat-ports-pair': '9051=10264,9052=10263' }));
  const rv2 = api.api.store.get('configmaps', NS, 'edge-tunnel-server-cfg')!.metadata.resourceVersion;
  await until(async () => (await meta(server, '/debug/config')).json().resourceVersion === rv2, 'second version applied');
  const debug = (await meta(server, '/debug/config')).json();
  t.match(debug.rejected, [{ key: 'dnat-ports-pair', entry: '9052=10263', code: 'INVALID_PAIR', reason: /9052=10263/ }], '/debug/config names the entry');
  t.match(await server.logs.waitFor((l) => l['msg'] === 'port config entry rejected'), { level: 40, entry: '9052=10263', code: 'INVALID_PAIR' }, 'warn line');
  await until(() => eventsWithReason(api, 'InvalidPortConfig').length === 1, 'InvalidPortConfig Event');
  t.match(eventsWithReason(api, 'InvalidPortConfig')[0], {
    type: 'Warning',
    metadata: { namespace: NS },
    involvedObject: { kind: 'ConfigMap', name: 'edge-tunnel-server-cfg', namespace: NS },
    message: /9052=10263/,
  });
  t.equal((await get9051()).status, 200, 'the good entry stays in force');
  t.equal(
    (await send(server.addr.http, { path: '/healthz', headers: { host: '127.0.20.1:9052' } })).headers['x-tunnel-error'],
    'PORT_NOT_CONFIGURED',
    'the bad one is not applied',
  );
  t.match((await meta(server, '/debug/cluster')).json(), { mode: 'cluster', nodesSynced: true, configSynced: true, edgeNodes: 1, capture: { mode: 'none' } });
});

/** Raw upgrade request through the HTTPS listener; resolves with the status line. */
function upgradeStatus(addr: { host: string; port: number }, host: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: addr.host, port: addr.port, servername: 'localhost', ...callerTls }, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n`,
      );
    });
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('\r\n')) {
        resolve(text.slice(0, text.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

t.test("kubelet pod paths whose Host is not a node go to the pod's node (cached)", async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.20.1']));
  api.api.store.put('pods', { metadata: { name: 'demo', namespace: 'default' }, spec: { nodeName: 'edge-a', containers: [{ name: 'app' }] } });
  api.api.store.put('pods', { metadata: { name: 'pending', namespace: 'default' }, spec: { containers: [{ name: 'app' }] } });
  const server = await startClusterServer(t, pki, api, NO_CAPTURE);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  node.kubelet.appendLog('default', 'demo', 'app', 'hello through the pod lookup');
  const host = 'edge-tunnel-server-internal.kube-system.svc:10250';
  const logs = await send(server.addr.https, { path: '/containerLogs/default/demo/app', headers: { host }, tls: callerTls });
  t.equal(logs.status, 200, logs.body);
  t.match(logs.body, /hello through the pod lookup/);
  t.match(await server.logs.waitFor((l) => l['msg'] === 'audit' && l['path'] === '/containerLogs/default/demo/app'), { nodeName: 'edge-a', status: 200 });
  t.equal(await upgradeStatus(server.addr.https, host, '/exec/default/demo/app?command=true&stdout=true'), 'HTTP/1.1 101 Switching Protocols', 'upgrades too');
  const podGets = api.api.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/pods/demo');
  t.equal(podGets.length, 1, 'the second lookup came from the cache');

  const missing = await send(server.addr.https, { path: '/containerLogs/default/nope/app', headers: { host }, tls: callerTls });
  t.equal(missing.status, 502);
  t.match(missing.body, /NODE_UNKNOWN: .*pod default\/nope named by the path does not exist or is not scheduled/);
  t.equal(
    (await send(server.addr.https, { path: '/containerLogs/default/pending/app', headers: { host }, tls: callerTls })).headers['x-tunnel-error'],
    'NODE_UNKNOWN',
    'unscheduled pod',
  );
  const notKubelet = await send(server.addr.https, { path: '/pods', headers: { host }, tls: callerTls });
  t.match(notKubelet.body, /no edge node has IP or name edge-tunnel-server-internal/, 'other paths: plain miss');
});

t.test('agents enroll with the bootstrap token; the certificate from the CA Secret opens a session', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-b', ['127.0.20.2']));
  api.api.store.put('secrets', {
    metadata: { name: 'edge-tunnel-bootstrap', namespace: NS },
    data: { token: Buffer.from('abcdef.0123456789abcdef').toString('base64') },
  });
  const server = await startClusterServer(t, pki, api, NO_CAPTURE);
  const socket = tlsConnect({
    host: server.addr.agent.host,
    port: server.addr.agent.port,
    ca: pki.agentCa.certPem,
    servername: 'localhost',
    ALPNProtocols: [AgentAlpn.ENROLL],
  });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const answer = await new Promise<{ status: number; body: Record<string, string> }>((resolve, reject) => {
    const req = httpRequest(
      {
        createConnection: () => socket,
        method: 'POST',
        path: '/v1/enroll',
        headers: { 'content-type': 'application/json', authorization: 'Bearer abcdef.0123456789abcdef' },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (s: string) => (text += s))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ nodeName: 'edge-b', csr: createCsr(pki.key, 'edge-b') }));
  });
  t.equal(answer.status, 200, JSON.stringify(answer.body));
  const { startFakeAgent } = await import('./fixtures/fake-agent.js');
  const agent = await startFakeAgent({
    host: server.addr.agent.host,
    port: server.addr.agent.port,
    cert: answer.body['certificate'],
    key: pki.key.privateKeyPem,
    ca: pki.agentCa.certPem,
    nodeName: 'edge-b',
    nodeIps: ['127.0.20.2'],
  });
  t.teardown(() => agent.close());
  await waitAttached(server, 'edge-b', agent);
  t.pass('enrolled agent attached');
});

t.test('cluster mode creates the CA Secret when absent and refuses a bad kubeconfig', async (t) => {
  const api = await startApi(t);
  const { startServer } = await import('./fixtures/harness.js');
  const server = await startServer(t, pki, ['--kubeconfig', api.kubeconfig, '--ca-secret', 'fresh-ca', ...NO_CAPTURE]);
  const secret = api.api.store.get('secrets', NS, 'fresh-ca') as Record<string, any> | undefined;
  t.equal(secret?.['type'], 'kubernetes.io/tls');
  t.match(Buffer.from(secret?.['data']['tls.crt'], 'base64').toString(), /BEGIN CERTIFICATE/);
  t.ok(server.handle.addresses.agent.port > 0);
  await t.rejects(startServer(t, pki, ['--kubeconfig', '/nonexistent/kubeconfig']), {
    code: 'ERR_SERVER_KUBERNETES',
    message: /kubeconfig file \/nonexistent\/kubeconfig does not exist/,
  });
});
