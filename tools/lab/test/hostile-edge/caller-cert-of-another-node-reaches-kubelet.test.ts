// Attack 1: any certificate from --caller-ca got the kubelet API of every node. With the lab's one CA
// (as with `edge-tunnel-pki init`), edge-b's *agent* certificate fetched edge-a's /pods and ran an exec
// in edge-a's pod through :10263 (audit: caller "edge-b", nodeName "edge-a", status 101). Now a
// caller is authorized, not only authenticated: --caller-allow (default: kube-apiserver's
// kubelet-client name), and an edge node's identity is refused whatever the rules say. (Before the
// fix the first four checks here failed: 200 with a PodList, and the exec switched protocols.)
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import t from 'tap';
import { startTestLab } from '../fixtures/lab.js';

const lines: string[] = [];
const lab = await startTestLab(241, lines);
t.teardown(() => lab.close());
const [a, b] = [lab.nodes[0]!, lab.nodes[1]!];
const pem = (name: string, ext: 'crt' | 'key'): string => readFileSync(lab.certs.path(name, ext), 'utf8');

/** One request to :10263 for edge-a's kubelet with the given client certificate. */
function ask(certName: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; error?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: lab.serverHost,
      port: lab.ports.https,
      path,
      servername: 'localhost',
      agent: false,
      headers: { host: `${a.ip}:10250`, ...headers },
      ca: pem('ca', 'crt'),
      cert: pem(certName, 'crt'),
      key: pem(certName, 'key'),
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

const exec = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-protocol': 'v5.channel.k8s.io',
};

t.test(`edge-b's agent certificate cannot reach edge-a's kubelet; kube-apiserver's still can`, async (t) => {
  const pods = await ask(`agent-${b.name}`, '/pods');
  t.equal(pods.status, 403, 'GET /pods with the agent certificate of edge-b');
  t.equal(pods.error, 'CALLER_NOT_ALLOWED');
  t.notMatch(pods.body, /PodList/, 'no pod list');
  const up = await ask(`agent-${b.name}`, '/exec/default/demo/app?command=id&stdout=true', exec);
  t.equal(up.status, 403, 'an exec upgrade with it is refused, not switched (101)');
  t.ok(
    lines.some((l) => l.includes('caller refused')),
    'a warn line names the refused caller',
  );
  const ok = await ask('caller', '/pods');
  t.equal(ok.status, 200, "the lab's kube-apiserver caller certificate still gets edge-a's /pods");
  t.match(ok.body, /PodList/);
});
