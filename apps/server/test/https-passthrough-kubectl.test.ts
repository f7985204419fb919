// kubectl logs / exec / port-forward through the fake API server with kubelet verification on
// (--kubelet-ca, as kube-apiserver's --kubelet-certificate-authority) and the server in
// --https-mode=passthrough (root only). The emulated kubelets authenticate and authorize as the real
// one in webhook mode, against the same API server (TokenReview / SubjectAccessReview, --auth). The API server runs in the caller namespace and dials each
// kubelet as kube-apiserver does: edge-ip by its InternalIP (our iptables capture, routed by the
// original destination), edge-dns by its Hostname (the namespace's hosts file names the server, as
// DNS capture does; routed by SNI). Its kubelet-client certificate reaches the emulated kubelet,
// which requires it; with the wrong CA kubectl fails with the certificate error.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { issueCertificate } from '@edge-tunnel/pki';
import t from 'tap';
import type { Test } from 'tap';
import { startNode, until } from './fixtures/harness.js';
import { netnsUnavailable, passthroughNs } from './fixtures/passthrough-netns.js';
import { testPki } from './fixtures/pki.js';

const skip = await netnsUnavailable(['kubectl']);
const pki = await testPki();
const FAKE_APISERVER = new URL('../../../tools/fake-apiserver/dist/main.js', import.meta.url).pathname;

function node(name: string, address: { type: string; address: string }, port: number): object {
  return {
    metadata: { name },
    status: { addresses: [address], daemonEndpoints: { kubeletEndpoint: { Port: port } }, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}
const pod = (name: string, nodeName: string): object => ({
  metadata: { name, namespace: 'default' },
  spec: { nodeName, containers: [{ name: 'app' }] },
  status: { phase: 'Running' },
});

/** The fake API server as a process in the namespace; resolves with its kubeconfig and URL once it listens. */
async function startApi(t: Test, ns: string, dir: string, tag: string, caFile: string, listen = '127.0.0.1:0'): Promise<{ kubeconfig: string; url: string }> {
  const kubeconfig = join(dir, `kubeconfig-${tag}`);
  const child: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      FAKE_APISERVER,
      '--listen',
      listen,
      '--seed',
      join(dir, 'seed.json'),
      '--auth',
      join(dir, 'auth.json'),
      '--kubeconfig',
      kubeconfig,
      '--kubelet-client-cert',
      join(dir, 'caller.pem'),
      '--kubelet-client-key',
      join(dir, 'caller.key'),
      '--kubelet-ca',
      caFile,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (out += c));
  await until(() => out.includes('fake apiserver listening'), `fake apiserver (${tag}) listening: ${out}`, 10_000);
  return { kubeconfig, url: (JSON.parse(out.split('\n').find((l) => l.includes('fake apiserver listening'))!) as { url: string }).url };
}

/** Who the webhook kubelets let in: the API server's kubelet-client identity everywhere, metrics-server's token on nodes/metrics. */
const AUTH = {
  tokens: { 'ms-token': { username: 'system:serviceaccount:kube-system:metrics-server' } },
  rules: [
    { users: ['kube-apiserver-kubelet-client'], verbs: ['*'], resources: ['nodes/*'] },
    { users: ['system:serviceaccount:kube-system:metrics-server'], verbs: ['get'], resources: ['nodes/metrics', 'nodes/stats'] },
  ],
};

t.test('kubectl through the fake API server, kubelet verified, server in passthrough', { skip: skip ?? false }, async (t) => {
  const { ns, dir, server, run, nsIp } = await passthroughNs(t, pki, ['edge-dns']);
  writeFileSync(
    join(dir, 'seed.json'),
    JSON.stringify({
      nodes: [
        node('edge-ip', { type: 'InternalIP', address: '10.126.1.2' }, 10250),
        node('edge-dns', { type: 'Hostname', address: 'edge-dns' }, server.addr.https.port),
      ],
      pods: [pod('demo', 'edge-ip'), pod('dnspod', 'edge-dns')],
    }),
  );
  writeFileSync(join(dir, 'auth.json'), JSON.stringify(AUTH));
  // on the namespace's veth address: kubectl (in the namespace) and the kubelets' webhooks (on the host) both reach it
  const { kubeconfig, url } = await startApi(t, ns, dir, 'verified', join(dir, 'ca.pem'), `${nsIp}:0`);
  const webhook = { apiServer: url };
  const ipServing = await issueCertificate(pki.clusterCa, {
    profile: 'server',
    commonName: 'edge-ip',
    ips: ['10.126.1.2'],
    dnsNames: ['edge-ip'],
    key: pki.key,
  });
  const ipNode = await startNode(
    t,
    pki,
    server,
    'edge-ip',
    '127.0.125.31',
    { nodeIps: ['10.126.1.2'], hostMap: { '10.126.1.2': '127.0.125.31' } },
    { serving: ipServing, pods: [{ name: 'demo', containers: ['app'] }], webhook },
  );
  const dnsServing = await issueCertificate(pki.clusterCa, { profile: 'server', commonName: 'edge-dns', dnsNames: ['edge-dns'], key: pki.key });
  const dnsNode = await startNode(
    t,
    pki,
    server,
    'edge-dns',
    '127.0.125.32',
    { nodeIps: ['10.126.2.2'], hostMap: { '10.126.2.2': '127.0.125.32' } },
    { serving: dnsServing, pods: [{ name: 'dnspod', containers: ['app'] }], webhook },
  );
  await until(async () => (await run('iptables-save', ['-t', 'nat'])).stdout.includes('-d 10.126.1.2/32'), 'edge-ip captured');
  const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], 20_000);

  for (const [n, podName, how] of [
    [ipNode, 'demo', 'InternalIP, iptables capture'],
    [dnsNode, 'dnspod', 'Hostname, DNS-style name'],
  ] as const) {
    n.kubelet.appendLog('default', podName, 'app', `hello from ${n.nodeName}`);
    const logs = await kubectl(['logs', podName, '-c', 'app']);
    t.equal(logs.code, 0, `logs (${how}): ${logs.stderr}`);
    t.match(logs.stdout, `hello from ${n.nodeName}`);
    const exec = await kubectl(['exec', podName, '-c', 'app', '--', 'sh', '-c', 'echo $NODE_NAME; exit 4']);
    t.equal(exec.stdout, `${n.nodeName}\n`, `exec ran on ${n.nodeName}`);
    t.equal(exec.code, 4, 'with its exit code');
  }
  const audits = server.logs.lines.filter((l) => l['msg'] === 'audit');
  t.ok(
    audits.some((l) => l['nodeName'] === 'edge-ip' && l['originalDst'] === '10.126.1.2:10250' && l['mode'] === 'passthrough'),
    'edge-ip routed by its original destination',
  );
  t.ok(
    audits.some((l) => l['nodeName'] === 'edge-dns' && l['sni'] === 'edge-dns' && l['originalDst'] === undefined),
    'edge-dns routed by SNI',
  );

  const echo = createServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforwarded'));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.teardown(() => echo.close());
  const podPort = (echo.address() as AddressInfo).port;
  const pf = spawn('ip', ['netns', 'exec', ns, 'kubectl', '--kubeconfig', kubeconfig, 'port-forward', 'pod/demo', `18251:${podPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void pf.kill('SIGKILL'));
  let pfOut = '';
  pf.stdout.on('data', (c: Buffer) => (pfOut += c));
  await until(() => pfOut.includes('Forwarding from 127.0.0.1'), 'port-forward listening', 15_000);
  const got = await run('curl', ['-s', '-m', '10', 'http://127.0.0.1:18251/']);
  t.equal(got.stdout, 'forwarded', 'port-forward carries a request');
  pf.kill('SIGINT');

  // metrics-server's bearer token: the kubelet itself reviews it, through the tunnel that holds no credential
  const curlArgs = ['-sS', '-m', '10', '--cacert', join(dir, 'ca.pem'), '-H', 'Authorization: Bearer ms-token'];
  const metrics = await run('curl', [...curlArgs, '-o', '/dev/null', '-w', '%{http_code}', 'https://10.126.1.2:10250/metrics/resource']);
  t.equal(metrics.stdout, '200', 'a reviewed token may get nodes/metrics');
  const proxy = await run('curl', [...curlArgs, 'https://10.126.1.2:10250/pods']);
  t.equal(
    proxy.stdout,
    'Forbidden (user=system:serviceaccount:kube-system:metrics-server, verb=get, resource=nodes, subresource=proxy)',
    "the kubelet's SubjectAccessReview refuses nodes/proxy",
  );
  const anonymous = await run('curl', ['-sS', '-m', '10', '--cacert', join(dir, 'ca.pem'), 'https://10.126.1.2:10250/pods']);
  t.equal(anonymous.stdout, 'Unauthorized', "no certificate, no token: the kubelet's 401");

  const foreignCa = join(dir, 'foreign-ca.pem');
  writeFileSync(foreignCa, pki.foreignCa.certPem);
  const wrong = await startApi(t, ns, dir, 'wrong-ca', foreignCa);
  const refused = await run('kubectl', ['--kubeconfig', wrong.kubeconfig, 'logs', 'demo', '-c', 'app'], 20_000);
  t.not(refused.code, 0, 'the API server refuses a kubelet it cannot verify');
  t.match(refused.stderr, /certificate|verify|x509/i, `the certificate error: ${refused.stderr.trim()}`);
  t.notOk(
    server.logs.find((l) => l['msg'] === 'passthrough refused'),
    'the tunnel refused nothing',
  );
});
