// --https-mode=passthrough with --capture=iptables in a real network namespace (root only): a caller
// in the namespace dials the edge node IP, our DNAT lands it on the server across a veth, and the
// server routes by the connection's original destination (its conntrack entry; IP destinations
// carry no SNI). The caller verifies the kubelet's IP SAN against the kubelet CA (Node's TLS client
// and curl --cacert); a kubelet certificate for another IP fails as a certificate error.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRunner } from '@edge-tunnel/capture';
import { issueCertificate } from '@edge-tunnel/pki';
import t from 'tap';
import { startNode, startServer, until } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const exec = promisify(execFile);
const NODE_IP = '10.126.1.2';
const BAD_NODE_IP = '10.126.1.3';

async function unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: network namespaces and iptables need root';
  for (const cmd of ['ip', 'iptables-restore', 'conntrack', 'curl']) {
    if (await exec('sh', ['-c', `command -v ${cmd}`]).then(() => false, () => true)) return `${cmd} not installed (Debian packages iproute2, iptables, conntrack, curl)`;
  }
  return undefined;
}

const skip = await unavailable();
const pki = await testPki();

/** Runs in the namespace; never rejects. */
function inNs(ns: string, cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
    resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr })));
}

/** A Node TLS caller with the default identity check (IP SAN for an IP), as kube-apiserver with --kubelet-certificate-authority. */
const NODE_CALLER = `
const tls = require('node:tls'); const fs = require('node:fs'); const [host, dir] = process.argv.slice(2);
const s = tls.connect({ host, port: 10250, ca: fs.readFileSync(dir + '/ca.pem'), cert: fs.readFileSync(dir + '/caller.pem'), key: fs.readFileSync(dir + '/caller.key') });
s.on('secureConnect', () => s.end('GET /healthz HTTP/1.1\\r\\nHost: ' + host + ':10250\\r\\nConnection: close\\r\\n\\r\\n'));
let out = ''; s.on('data', (c) => (out += c)); s.on('end', () => console.log(JSON.stringify({ authorized: s.authorized, out })));
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));`;

t.test('iptables capture + passthrough: routed by the original destination, the kubelet verified by IP SAN', { skip: skip ?? false }, async (t) => {
  const id = randomBytes(2).toString('hex');
  const ns = `h25-pt-${id}`;
  const [hostIf, nsIf] = [`h25p${id}a`, `h25p${id}b`];
  const octet = 100 + (parseInt(id, 16) % 150);
  const [hostIp, nsIp] = [`10.125.${octet}.1`, `10.125.${octet}.2`];
  const removeNs = (): void => {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    execFileSync('sh', ['-c', `ip link del ${hostIf} 2>/dev/null || true`], { stdio: 'ignore' });
  };
  await exec('ip', ['netns', 'add', ns]);
  process.once('exit', removeNs);
  t.teardown(() => {
    process.off('exit', removeNs);
    removeNs();
  });
  await exec('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns]);
  await exec('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
  await exec('ip', ['link', 'set', hostIf, 'up']);
  for (const args of [['link', 'set', 'lo', 'up'], ['addr', 'add', `${nsIp}/30`, 'dev', nsIf], ['link', 'set', nsIf, 'up'], ['route', 'add', '10.126.0.0/16', 'via', hostIp]]) {
    await exec('ip', ['netns', 'exec', ns, 'ip', ...args]);
  }
  const dir = mkdtempSync(join(tmpdir(), 'h25-passthrough-netns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of [['ca.pem', pki.clusterCa.certPem], ['caller.pem', pki.caller.certPem], ['caller.key', pki.key.privateKeyPem], ['caller.js', NODE_CALLER]] as const) writeFileSync(join(dir, name), text);

  const server = await startServer(t, pki, [
    '--https-mode=passthrough', '--capture', 'iptables', '--https-addr', `${hostIp}:0`, '--http-addr', `${hostIp}:0`, '--iptables-other-ports=false',
  ], {}, { iptablesRunner: createRunner({ netns: ns }) });
  const serving = await issueCertificate(pki.clusterCa, { profile: 'server', commonName: 'edge-ip', ips: [NODE_IP], key: pki.key });
  const node = await startNode(t, pki, server, 'edge-ip', '127.0.125.21', { nodeIps: [NODE_IP], hostMap: { [NODE_IP]: '127.0.125.21' } }, serving);
  const wrongIp = await issueCertificate(pki.clusterCa, { profile: 'server', commonName: 'edge-bad', ips: ['10.126.9.9'], key: pki.key });
  await startNode(t, pki, server, 'edge-bad', '127.0.125.22', { nodeIps: [BAD_NODE_IP], hostMap: { [BAD_NODE_IP]: '127.0.125.22' } }, wrongIp);
  const nat = async (): Promise<string> => (await exec('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'])).stdout;
  await until(async () => (await nat()).includes(`-d ${BAD_NODE_IP}/32`) && (await nat()).includes(`-d ${NODE_IP}/32`), 'both node IPs captured');

  const first = await inNs(ns, process.execPath, [join(dir, 'caller.js'), NODE_IP, dir]);
  t.equal(first.stderr, '', 'the Node caller ran');
  const viaNode = JSON.parse(first.stdout || '{}') as { authorized?: boolean; out?: string; error?: string };
  t.equal(viaNode.authorized, true, 'Node: the kubelet certificate verifies for IP 10.126.1.2 against the kubelet CA');
  t.match(viaNode.out, /^HTTP\/1\.1 200[\s\S]*ok$/);
  t.match(node.agent.opens.at(-1), { host: NODE_IP, port: 10250, kind: 'passthrough' });
  const audit = await server.logs.waitFor((l) => l['msg'] === 'audit' && l['nodeName'] === 'edge-ip');
  t.match(audit, { mode: 'passthrough', originalDst: `${NODE_IP}:10250`, sni: undefined, port: 10250, status: 200, caller: new RegExp(`^${nsIp.replaceAll('.', '\\.')}:\\d+$`) });

  const curlArgs = ['-sS', '--max-time', '5', '--cacert', join(dir, 'ca.pem'), '--cert', join(dir, 'caller.pem'), '--key', join(dir, 'caller.key')];
  const ok = await inNs(ns, 'curl', [...curlArgs, `https://${NODE_IP}:10250/healthz`]);
  t.strictSame([ok.code, ok.stdout], [0, 'ok'], 'curl --cacert verifies the kubelet by IP through iptables capture');

  const bad = JSON.parse((await inNs(ns, process.execPath, [join(dir, 'caller.js'), BAD_NODE_IP, dir])).stdout) as { error?: string };
  t.equal(bad.error, 'ERR_TLS_CERT_ALTNAME_INVALID', 'Node: a kubelet certificate for another IP is a certificate error');
  const badCurl = await inNs(ns, 'curl', [...curlArgs, `https://${BAD_NODE_IP}:10250/healthz`]);
  t.equal(badCurl.code, 60, `curl: the certificate error (${badCurl.stderr.trim().split('\n')[0]})`);
  t.notOk(server.logs.find((l) => l['msg'] === 'passthrough refused'), 'the tunnel refused nothing');
});
