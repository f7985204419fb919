// Issue 13, "callers are authorized": metrics-server and Prometheus reach kubelets with
// service-account bearer tokens. Before, a caller without a certificate (--require-caller-cert=false,
// which such callers need) was forwarded with the server's own kubelet-client identity whatever it
// sent: a token without any RBAC (or no token at all) ran `/run` and exec in edge-a's pod and read
// /pods. Now, in cluster mode, the token is reviewed (TokenReview) and each request authorized
// (SubjectAccessReview, the kubelet's nodes/<subresource> mapping), with cached decisions. Real
// processes: the fake API server, a cluster-mode server, an agent, an emulated kubelet on 127.0.190.1.
import { request } from 'node:https';
import t from 'tap';
import { startKubelet } from '@edge-tunnel/kubelet-emulator';
import { issueCallerCert, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { TOKEN_REVIEW_PATH, ACCESS_REVIEW_PATH } from '@edge-tunnel/fake-apiserver';
import { eventually, nodeObject, startCluster, writePki } from './fixtures/h3.js';

const IP = '127.0.190.1'; // h17's lab subnets: 190-199
const SA = (ns: string, name: string): string => `system:serviceaccount:${ns}:${name}`;

const pki = await writePki(t);
await writePemFiles(pki.dir, 'kubelet-client', await issueKubeletClientCert(pki.ca));
const apiserverCaller = await issueCallerCert(pki.ca);
const serving = await issueServerCert(pki.ca, { commonName: 'edge-a', dnsNames: ['edge-a'], ips: [IP] });
const kubelet = await startKubelet({
  nodeName: 'edge-a',
  host: IP,
  tls: { cert: serving.certPem, key: serving.keyPem, ca: pki.ca.certPem },
  logLineIntervalMs: 0,
});
t.teardown(() => kubelet.close());
const cluster = await startCluster(
  t,
  pki,
  [['nodes', nodeObject('edge-a', [IP])]],
  ['--require-caller-cert=false', '--kubelet-client-cert', pki.path('kubelet-client', 'crt'), '--kubelet-client-key', pki.path('kubelet-client', 'key')],
);
Object.assign(cluster.api.auth.tokens, {
  'tok-nobody': { username: SA('default', 'nobody'), groups: ['system:serviceaccounts'] },
  'tok-metrics': { username: SA('kube-system', 'metrics-server'), groups: ['system:serviceaccounts'] },
  'tok-admin': { username: SA('kube-system', 'node-admin'), groups: ['system:serviceaccounts'] },
});
cluster.api.auth.rules.push(
  { users: [SA('kube-system', 'metrics-server')], verbs: ['get'], resources: ['nodes/metrics', 'nodes/stats'] },
  { users: [SA('kube-system', 'node-admin')], verbs: ['get', 'create'], resources: ['nodes/proxy'] },
);
await cluster.agent('edge-a', IP);
t.ok(await eventually(async () => (await cluster.meta('/debug/tunnels'))?.nodes.some((n: any) => n.connected) === true, 20_000), 'edge-a attached');

interface Answer {
  status: number;
  error?: string;
  body: string;
}

/** One request to :10263 for edge-a's kubelet, no client certificate unless `cert`. */
function ask(method: string, path: string, headers: Record<string, string> = {}, cert?: { certPem: string; keyPem: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: cluster.ports.https,
      method,
      path,
      servername: 'localhost',
      agent: false,
      ca: pki.ca.certPem,
      headers: { host: `${IP}:10250`, ...headers },
      ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
    });
    req.on('response', (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => {
          body += d;
        })
        .on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-tunnel-error'] as string | undefined, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject).end();
  });
}
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const ws = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-protocol': 'v5.channel.k8s.io',
};
const EXEC = '/exec/default/demo/app?command=id&stdout=true';
const count = (path: string): number => cluster.api.requests.filter((r) => r.method === 'POST' && r.path === path).length;

t.test('a service-account token without nodes/proxy cannot /run nor exec', async (t) => {
  const run = await ask('POST', '/run/default/demo/app?cmd=id', bearer('tok-nobody'));
  t.equal(run.status, 403, 'POST /run');
  t.equal(run.error, 'TOKEN_NOT_ALLOWED');
  t.match(run.body, /may not create nodes\/proxy "edge-a"/, 'the body names the missing permission');
  const exec = await ask('GET', EXEC, { ...bearer('tok-nobody'), ...ws });
  t.equal(exec.status, 403, 'an exec upgrade is refused, not switched');
  t.equal(kubelet.execCount(), 0, 'no exec reached the kubelet');
  const refused = cluster.server.logged('token caller refused');
  t.ok(
    refused.some((l) => l['user'] === SA('default', 'nobody') && l['reason'] === 'TOKEN_NOT_ALLOWED'),
    'a warn line names the user',
  );
});

t.test('a token with nodes/metrics only: GET /metrics yes, /pods (proxy) no', async (t) => {
  const metrics = await ask('GET', '/metrics', bearer('tok-metrics'));
  t.equal(metrics.status, 200, 'GET /metrics');
  t.match(metrics.body, /kubelet_node_name\{node="edge-a"\}|kubelet_node_name/);
  const stats = await ask('GET', '/stats/summary', bearer('tok-metrics'));
  t.equal(stats.status, 200, 'GET /stats/summary (nodes/stats)');
  const pods = await ask('GET', '/pods', bearer('tok-metrics'));
  t.equal(pods.status, 403, 'GET /pods');
  t.equal(pods.error, 'TOKEN_NOT_ALLOWED');
  t.match(pods.body, /get nodes\/proxy/);
  t.notMatch(pods.body, /PodList/);
  const sneaky = await ask('GET', '/metrics/%2e%2e/pods', bearer('tok-metrics'));
  t.equal(sneaky.status, 403, '/metrics/%2e%2e/pods is nodes/proxy, not nodes/metrics');
  const audit = cluster.server.logged('audit').filter((a) => a['path'] === '/metrics' && a['status'] === 200);
  t.equal(audit.at(-1)?.['caller'], SA('kube-system', 'metrics-server'), "the audit line names the token's user");
});

t.test('an invalid token, and no credentials at all, get 401', async (t) => {
  const bad = await ask('GET', '/metrics', bearer('forged.jwt.token'));
  t.equal(bad.status, 401);
  t.equal(bad.error, 'UNAUTHENTICATED');
  const none = await ask('GET', '/pods');
  t.equal(none.status, 401, 'no certificate, no token');
  t.equal(none.error, 'UNAUTHENTICATED');
});

t.test('decisions are cached: repeated scrapes ask the API once', async (t) => {
  const [tr, sar] = [count(TOKEN_REVIEW_PATH), count(ACCESS_REVIEW_PATH)];
  for (let i = 0; i < 5; i++) t.equal((await ask('GET', '/metrics', bearer('tok-metrics'))).status, 200);
  t.equal(count(TOKEN_REVIEW_PATH) - tr, 0, 'no TokenReview for a token reviewed in the last 2 minutes');
  t.equal(count(ACCESS_REVIEW_PATH) - sar, 0, 'no SubjectAccessReview for a decision of the last 5 minutes');
  await ask('GET', '/pods', bearer('tok-metrics'));
  t.equal(count(ACCESS_REVIEW_PATH) - sar, 0, 'the denial is cached too');
  await ask('GET', '/metrics/cadvisor', bearer('tok-metrics'));
  t.equal(count(ACCESS_REVIEW_PATH) - sar, 0, 'same permission (get nodes/metrics): same decision');
  await ask('GET', '/spec/', bearer('tok-metrics'));
  t.equal(count(ACCESS_REVIEW_PATH) - sar, 1, 'a new permission (nodes/spec) is one review');
});

t.test("positive controls: nodes/proxy may exec; the apiserver's certificate needs no token", async (t) => {
  const exec = await ask('GET', EXEC, { ...bearer('tok-admin'), ...ws });
  t.equal(exec.status, 101, 'exec with get nodes/proxy switches');
  t.ok(await eventually(() => kubelet.execCount() === 1, 5_000), 'and reached the kubelet');
  const pods = await ask('GET', '/pods', {}, apiserverCaller);
  t.equal(pods.status, 200, 'kube-apiserver-kubelet-client certificate');
  t.match(pods.body, /PodList/);
  const other = await ask('GET', '/pods', bearer('tok-admin'), await issueCallerCert(pki.ca, 'prometheus'));
  t.equal(other.status, 403, 'a verified certificate outside --caller-allow is refused even with an allowed token (the certificate decides)');
  t.equal(other.error, 'CALLER_NOT_ALLOWED');
});
