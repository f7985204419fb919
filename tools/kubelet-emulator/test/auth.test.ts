// Webhook authn/authz of the HTTPS port, as a kubelet with --anonymous-auth=false and
// --authorization-mode=Webhook: certificate (CN, O) or bearer token (TokenReview), then a
// SubjectAccessReview naming nodes/<subresource> of this node; 401 / 403 / 500 as the kubelet answers.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { requestAttributes } from '../src/index.js';
import { clientTls, httpsGet, startTestKubelet, testCerts } from './fixtures/kubelet.js';

interface Review {
  path: string;
  spec: Record<string, unknown>;
}

/** A TokenReview / SubjectAccessReview endpoint: token `good` is user `metrics-server`; `allow` decides SARs. */
async function reviewer(t: Test, allow: (user: string, attrs: Record<string, string>) => boolean) {
  const seen: Review[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const spec = (JSON.parse(body) as { spec: Record<string, unknown> }).spec;
      seen.push({ path: req.url ?? '', spec });
      const status = req.url?.includes('tokenreviews')
        ? spec['token'] === 'good'
          ? { authenticated: true, user: { username: 'metrics-server', groups: ['system:serviceaccounts'] } }
          : { authenticated: false }
        : { allowed: allow(spec['user'] as string, spec['resourceAttributes'] as Record<string, string>) };
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

t.test('certificate and bearer-token callers, each request reviewed', async (t) => {
  const api = await reviewer(
    t,
    (user, a) => (user === 'kube-apiserver' && a['subresource'] === 'proxy') || (user === 'metrics-server' && a['subresource'] === 'metrics'),
  );
  const kubelet = await startTestKubelet(t, { webhook: { apiServer: api.url } });
  const pods = await httpsGet(kubelet, '/pods');
  t.equal(pods.status, 200, 'the certificate user (CN kube-apiserver) may get nodes/proxy');
  t.match(api.seen.at(-1), {
    path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    spec: {
      user: 'kube-apiserver',
      groups: ['system:masters', 'system:authenticated'],
      resourceAttributes: { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'edge-1' },
    },
  });
  const stats = await httpsGet(kubelet, '/stats/summary');
  t.strictSame([stats.status, stats.body], [403, 'Forbidden (user=kube-apiserver, verb=get, resource=nodes, subresource=stats)'], "the kubelet's own sentence");

  const { ca } = testCerts();
  const token = await httpsGet(kubelet, '/metrics/resource', { ca, cert: undefined, key: undefined, headers: { authorization: 'Bearer good' } });
  t.equal(token.status, 200, 'a reviewed token may get nodes/metrics');
  t.match(api.seen.at(-2), { path: '/apis/authentication.k8s.io/v1/tokenreviews', spec: { token: 'good' } });
  const tokenProxy = await httpsGet(kubelet, '/pods', { ca, cert: undefined, key: undefined, headers: { authorization: 'Bearer good' } });
  t.equal(tokenProxy.status, 403, 'but not nodes/proxy');
  const bad = await httpsGet(kubelet, '/pods', { ca, cert: undefined, key: undefined, headers: { authorization: 'Bearer nope' } });
  t.strictSame([bad.status, bad.body], [401, 'Unauthorized']);
  const none = await httpsGet(kubelet, '/healthz', { ca, cert: undefined, key: undefined });
  t.equal(none.status, 401, 'no certificate, no token: anonymous is off');
});

t.test('upgrades are reviewed too; a webhook that fails is a 500', async (t) => {
  const api = await reviewer(t, () => false);
  const kubelet = await startTestKubelet(t, { webhook: { apiServer: api.url } });
  const raw = await new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.10.1', port: kubelet.httpsPort, ...clientTls() }, () =>
      s.write(
        'GET /exec/default/demo/app?command=true&output=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    );
    let out = '';
    s.on('data', (c: Buffer) => (out += c));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  t.match(raw, /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*Forbidden \(user=kube-apiserver, verb=get, resource=nodes, subresource=proxy\)$/);
  const down = await startTestKubelet(t, { host: '127.0.10.2', webhook: { apiServer: 'http://127.0.0.1:1' } });
  const r = await httpsGet(down, '/pods');
  t.equal(r.status, 500);
  t.match(r.body, /^Authorization error \(user=kube-apiserver/);
});

t.test('request attributes as the kubelet maps paths', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    ['GET', '/stats/summary', 'get', 'stats'],
    ['GET', '/metrics/cadvisor', 'get', 'metrics'],
    ['GET', '/metrics', 'get', 'metrics'],
    ['GET', '/logs/', 'get', 'log'],
    ['GET', '/spec/', 'get', 'spec'],
    ['GET', '/pods', 'get', 'proxy'],
    ['POST', '/exec/default/demo/app', 'create', 'proxy'],
    ['GET', '/containerLogs/default/demo/app', 'get', 'proxy'],
    ['POST', '/checkpoint/x', 'create', 'checkpoint'],
  ];
  for (const [method, path, verb, subresource] of cases)
    t.strictSame(requestAttributes(method, path, 'n'), { verb, resource: 'nodes', subresource, name: 'n' }, `${method} ${path}`);
});
