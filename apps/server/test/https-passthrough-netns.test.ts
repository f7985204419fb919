// --https-mode=passthrough with --capture=iptables in a real network namespace (root only): a caller
// in the namespace dials the edge node IP, our DNAT lands it on the server across a veth, and the
// server routes by the connection's original destination (its conntrack entry; IP destinations
// carry no SNI). The caller verifies the kubelet's IP SAN against the kubelet CA (Node's TLS client
// and curl --cacert); a kubelet certificate for another IP fails as a certificate error.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '@edge-tunnel/pki';
import t from 'tap';
import { startNode, until } from './fixtures/harness.js';
import { netnsUnavailable, passthroughNs } from './fixtures/passthrough-netns.js';
import { testPki } from './fixtures/pki.js';

const NODE_IP = '10.126.1.2';
const BAD_NODE_IP = '10.126.1.3';

const skip = await netnsUnavailable();
const pki = await testPki();

/** A Node TLS caller with the default identity check (IP SAN for an IP), as kube-apiserver with --kubelet-certificate-authority. */
const NODE_CALLER = `
const tls = require('node:tls'); const fs = require('node:fs'); const [host, dir] = process.argv.slice(2);
const s = tls.connect({ host, port: 10250, ca: fs.readFileSync(dir + '/ca.pem'), cert: fs.readFileSync(dir + '/caller.pem'), key: fs.readFileSync(dir + '/caller.key') });
s.on('secureConnect', () => s.end('GET /healthz HTTP/1.1\\r\\nHost: ' + host + ':10250\\r\\nConnection: close\\r\\n\\r\\n'));
let out = ''; s.on('data', (c) => (out += c)); s.on('end', () => console.log(JSON.stringify({ authorized: s.authorized, out })));
s.on('error', (e) => console.log(JSON.stringify({ error: e.code })));`;

t.test('iptables capture + passthrough: routed by the original destination, the kubelet verified by IP SAN', { skip: skip ?? false }, async (t) => {
  const { dir, nsIp, server, run } = await passthroughNs(t, pki);
  writeFileSync(join(dir, 'caller.js'), NODE_CALLER);
  const serving = await issueCertificate(pki.clusterCa, { profile: 'server', commonName: 'edge-ip', ips: [NODE_IP], key: pki.key });
  const node = await startNode(t, pki, server, 'edge-ip', '127.0.125.21', { nodeIps: [NODE_IP], hostMap: { [NODE_IP]: '127.0.125.21' } }, { serving });
  const wrongIp = await issueCertificate(pki.clusterCa, { profile: 'server', commonName: 'edge-bad', ips: ['10.126.9.9'], key: pki.key });
  await startNode(t, pki, server, 'edge-bad', '127.0.125.22', { nodeIps: [BAD_NODE_IP], hostMap: { [BAD_NODE_IP]: '127.0.125.22' } }, { serving: wrongIp });
  const nat = async (): Promise<string> => (await run('iptables-save', ['-t', 'nat'])).stdout;
  await until(async () => (await nat()).includes(`-d ${BAD_NODE_IP}/32`) && (await nat()).includes(`-d ${NODE_IP}/32`), 'both node IPs captured');

  const first = await run(process.execPath, [join(dir, 'caller.js'), NODE_IP, dir]);
  t.equal(first.stderr, '', 'the Node caller ran');
  const viaNode = JSON.parse(first.stdout || '{}') as { authorized?: boolean; out?: string; error?: string };
  t.equal(viaNode.authorized, true, 'Node: the kubelet certificate verifies for IP 10.126.1.2 against the kubelet CA');
  t.match(viaNode.out, /^HTTP\/1\.1 200[\s\S]*ok$/);
  t.match(node.agent.opens.at(-1), { host: NODE_IP, port: 10250, kind: 'passthrough' });
  const audit = await server.logs.waitFor((l) => l['msg'] === 'audit' && l['nodeName'] === 'edge-ip');
  t.match(audit, {
    mode: 'passthrough',
    originalDst: `${NODE_IP}:10250`,
    sni: undefined,
    port: 10250,
    status: 200,
    caller: new RegExp(`^${nsIp.replaceAll('.', '\\.')}:\\d+$`),
  });

  const curlArgs = ['-sS', '--max-time', '5', '--cacert', join(dir, 'ca.pem'), '--cert', join(dir, 'caller.pem'), '--key', join(dir, 'caller.key')];
  const ok = await run('curl', [...curlArgs, `https://${NODE_IP}:10250/healthz`]);
  t.strictSame([ok.code, ok.stdout], [0, 'ok'], 'curl --cacert verifies the kubelet by IP through iptables capture');

  const bad = JSON.parse((await run(process.execPath, [join(dir, 'caller.js'), BAD_NODE_IP, dir])).stdout) as { error?: string };
  t.equal(bad.error, 'ERR_TLS_CERT_ALTNAME_INVALID', 'Node: a kubelet certificate for another IP is a certificate error');
  const badCurl = await run('curl', [...curlArgs, `https://${BAD_NODE_IP}:10250/healthz`]);
  t.equal(badCurl.code, 60, `curl: the certificate error (${badCurl.stderr.trim().split('\n')[0]})`);
  t.notOk(
    server.logs.find((l) => l['msg'] === 'passthrough refused'),
    'the tunnel refused nothing',
  );
});
