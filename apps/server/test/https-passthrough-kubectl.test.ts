// kubectl logs / exec / port-forward through the fake API server with kubelet verification on
// (--kubelet-ca, as kube-apiserver's --kubelet-certificate-authority) and the server in
// --https-mode=passthrough (root only). The API server runs in the caller namespace and dials each
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
  return { metadata: { name }, status: { addresses: [address], daemonEndpoints: { kubeletEndpoint: { Port: port } }, conditions: [{ type: 'Ready', status: 'True' }] } };
}
const pod = (name: string, nodeName: string): object => ({ metadata: { name, namespace: 'default' }, spec: { nodeName, containers: [{ name: 'app' }] }, status: { phase: 'Running' } });

/** The fake API server as a process in the namespace; resolves once it listens. */
async function startApi(t: Test, ns: string, dir: string, tag: string, caFile: string): Promise<string> {
  const kubeconfig = join(dir, `kubeconfig-${tag}`);
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, FAKE_APISERVER, '--listen', '127.0.0.1:0', '--seed', join(dir, 'seed.json'),
    '--kubeconfig', kubeconfig, '--kubelet-client-cert', join(dir, 'caller.pem'), '--kubelet-client-key', join(dir, 'caller.key'), '--kubelet-ca', caFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (out += c));
  await until(() => out.includes('fake apiserver listening'), `fake apiserver (${tag}) listening: ${out}`, 10_000);
  return kubeconfig;
}

t.test('kubectl through the fake API server, kubelet verified, server in passthrough', { skip: skip ?? false }, async (t) => {
  const { ns, dir, server, run } = await passthroughNs(t, pki, ['edge-dns']);
  const ipServing = await issueCertificate(pki.clusterCa, { profile: 'server', commonName: 'edge-ip', ips: ['10.126.1.2'], dnsNames: ['edge-ip'], key: pki.key });
  const ipNode = await startNode(t, pki, server, 'edge-ip', '127.0.125.31', { nodeIps: ['10.126.1.2'], hostMap: { '10.126.1.2': '127.0.125.31' } },
    { serving: ipServing, pods: [{ name: 'demo', containers: ['app'] }] });
  const dnsServing = await issueCertificate(pki.clusterCa, { profile: 'server', commonName: 'edge-dns', dnsNames: ['edge-dns'], key: pki.key });
  const dnsNode = await startNode(t, pki, server, 'edge-dns', '127.0.125.32', { nodeIps: ['10.126.2.2'], hostMap: { '10.126.2.2': '127.0.125.32' } },
    { serving: dnsServing, pods: [{ name: 'dnspod', containers: ['app'] }] });
  await until(async () => (await run('iptables-save', ['-t', 'nat'])).stdout.includes('-d 10.126.1.2/32'), 'edge-ip captured');
  writeFileSync(join(dir, 'seed.json'), JSON.stringify({
    nodes: [node('edge-ip', { type: 'InternalIP', address: '10.126.1.2' }, 10250), node('edge-dns', { type: 'Hostname', address: 'edge-dns' }, server.addr.https.port)],
    pods: [pod('demo', 'edge-ip'), pod('dnspod', 'edge-dns')],
  }));
  const kubeconfig = await startApi(t, ns, dir, 'verified', join(dir, 'ca.pem'));
  const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], 20_000);

  for (const [n, podName, how] of [[ipNode, 'demo', 'InternalIP, iptables capture'], [dnsNode, 'dnspod', 'Hostname, DNS-style name']] as const) {
    n.kubelet.appendLog('default', podName, 'app', `hello from ${n.nodeName}`);
    const logs = await kubectl(['logs', podName, '-c', 'app']);
    t.equal(logs.code, 0, `logs (${how}): ${logs.stderr}`);
    t.match(logs.stdout, `hello from ${n.nodeName}`);
    const exec = await kubectl(['exec', podName, '-c', 'app', '--', 'sh', '-c', 'echo $NODE_NAME; exit 4']);
    t.equal(exec.stdout, `${n.nodeName}\n`, `exec ran on ${n.nodeName}`);
    t.equal(exec.code, 4, 'with its exit code');
  }
  const audits = server.logs.lines.filter((l) => l['msg'] === 'audit');
  t.ok(audits.some((l) => l['nodeName'] === 'edge-ip' && l['originalDst'] === '10.126.1.2:10250' && l['mode'] === 'passthrough'), 'edge-ip routed by its original destination');
  t.ok(audits.some((l) => l['nodeName'] === 'edge-dns' && l['sni'] === 'edge-dns' && l['originalDst'] === undefined), 'edge-dns routed by SNI');

  const echo = createServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforwarded'));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.teardown(() => echo.close());
  const podPort = (echo.address() as AddressInfo).port;
  const pf = spawn('ip', ['netns', 'exec', ns, 'kubectl', '--kubeconfig', kubeconfig, 'port-forward', 'pod/demo', `18251:${podPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void pf.kill('SIGKILL'));
  let pfOut = '';
  pf.stdout.on('data', (c: Buffer) => (pfOut += c));
  await until(() => pfOut.includes('Forwarding from 127.0.0.1'), 'port-forward listening', 15_000);
  const got = await run('curl', ['-s', '-m', '10', 'http://127.0.0.1:18251/']);
  t.equal(got.stdout, 'forwarded', 'port-forward carries a request');
  pf.kill('SIGINT');

  const foreignCa = join(dir, 'foreign-ca.pem');
  writeFileSync(foreignCa, pki.foreignCa.certPem);
  const wrong = await startApi(t, ns, dir, 'wrong-ca', foreignCa);
  const refused = await run('kubectl', ['--kubeconfig', wrong, 'logs', 'demo', '-c', 'app'], 20_000);
  t.not(refused.code, 0, 'the API server refuses a kubelet it cannot verify');
  t.match(refused.stderr, /certificate|verify|x509/i, `the certificate error: ${refused.stderr.trim()}`);
  t.notOk(server.logs.find((l) => l['msg'] === 'passthrough refused'), 'the tunnel refused nothing');
});
