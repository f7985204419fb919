// Bearer-token callers on :10263 in cluster mode, end to end in one process: the caller's
// Authorization header never reaches the node (plain requests and upgrades), the server's
// kubelet-client identity does; the SubjectAccessReview names the node the request goes to; an API
// that cannot answer is a 503 AUTH_REVIEW_FAILED, not cached.
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import t, { type Test } from 'tap';
import { ACCESS_REVIEW_PATH } from '@edge-tunnel/fake-apiserver';
import { nodeObject, startApi, startClusterServer } from './fixtures/cluster.js';
import { connectAgent, send, waitAttached } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const IP = '127.0.191.1'; // h17's range
const pki = await testPki();

/** An HTTPS "kubelet" that answers with the headers it got and the client certificate's CN. */
async function headerEcho(t: Test): Promise<number> {
  const serving = await pki.kubeletServing('edge-a', IP);
  const seen = (req: IncomingMessage): string => JSON.stringify({ headers: req.headers, cn: (req.socket as TLSSocket).getPeerCertificate().subject?.CN });
  const server = createServer(
    { cert: serving.certPem, key: serving.keyPem, ca: pki.clusterCa.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => res.end(seen(req)),
  );
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const body = seen(req);
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  server.listen(0, IP);
  await new Promise((r) => server.once('listening', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

t.test('the token is reviewed here and never forwarded; the node is authorized by name', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', [IP]));
  api.api.auth.tokens['tok'] = { username: 'system:serviceaccount:monitoring:prometheus' };
  api.api.auth.rules.push({ users: ['system:serviceaccount:monitoring:prometheus'], verbs: ['get'], resources: ['nodes/proxy', 'nodes/metrics'] });
  const server = await startClusterServer(t, pki, api, ['--require-caller-cert=false']);
  const port = await headerEcho(t);
  const agent = await connectAgent(t, pki, server, 'edge-a', [IP], { portMap: { 10250: port } });
  await waitAttached(server, 'edge-a', agent);
  const tls = { ca: pki.agentCa.certPem };

  const r = await send(server.addr.https, { path: '/metrics', headers: { host: `${IP}:10250`, authorization: 'Bearer tok', 'x-other': 'kept' }, tls });
  t.equal(r.status, 200);
  const got = JSON.parse(r.body) as { headers: Record<string, string>; cn: string };
  t.equal(got.headers['authorization'], undefined, "the kubelet never sees the caller's token");
  t.equal(got.headers['x-other'], 'kept', 'other headers pass');
  t.equal(got.cn, 'edge-tunnel-server-kubelet-client', "it sees the server's kubelet-client identity (--kubelet-client-cert)");
  const byName = await send(server.addr.https, { path: '/pods', headers: { host: 'edge-a:10250', authorization: 'Bearer tok' }, tls });
  t.equal(byName.status, 200, 'addressed by node name');
  const sar = api.api.requests.filter((q) => q.path === ACCESS_REVIEW_PATH).length;
  t.equal(sar, 2, 'one review per permission (get nodes/metrics, get nodes/proxy)');

  const up = await send(server.addr.https, {
    path: '/exec/default/demo/app?command=id',
    tls,
    headers: {
      host: `${IP}:10250`,
      authorization: 'Bearer tok',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    },
  });
  t.equal(up.status, 400, 'the upgrade reached the echo');
  t.equal((JSON.parse(up.body) as { headers: Record<string, string> }).headers['authorization'], undefined, 'nor on an upgrade');

  const unknown = await send(server.addr.https, { path: '/pods', headers: { host: '127.0.191.9:10250', authorization: 'Bearer tok' }, tls });
  t.equal(unknown.status, 502, 'an authenticated caller to no node gets the miss');
  t.equal(unknown.headers['x-tunnel-error'], 'NODE_UNKNOWN');

  await api.api.close();
  const down = await send(server.addr.https, { path: '/metrics', headers: { host: `${IP}:10250`, authorization: 'Bearer other' }, tls });
  t.equal(down.status, 503, 'a new token while the API is down');
  t.equal(down.headers['x-tunnel-error'], 'AUTH_REVIEW_FAILED');
  const cached = await send(server.addr.https, { path: '/metrics', headers: { host: `${IP}:10250`, authorization: 'Bearer tok' }, tls });
  t.equal(cached.status, 200, 'a cached decision still serves while the API is down');
});
