// --https-mode=passthrough over loopback (DNS capture's path: the caller dials the node by name and
// lands on :10263): the caller verifies the kubelet's own serving certificate against the kubelet CA
// (Node's TLS client and the real curl), presents its certificate to the kubelet (the emulator
// requires one from the cluster CA), and a wrong kubelet certificate fails as a certificate error.
// No SNI or an unknown name is a TLS alert plus a warn line naming the fix.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { issueCertificate } from '@edge-tunnel/pki';
import t from 'tap';
import { parseConfig } from '../src/index.js';
import { alertOf, alertRecord, passthroughDest } from '../src/proxy/passthrough.js';
import { testPki } from './fixtures/pki.js';
import { serverEnv, startNode, startServer } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';

const pki = await testPki();
const PASSTHROUGH = '--https-mode=passthrough';

/** TLS straight to the server's :10263 as kube-apiserver with --kubelet-certificate-authority dials a node by name. */
function dial(server: TestServer, opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: server.addr.https.host,
      port: server.addr.https.port,
      ca: pki.clusterCa.certPem,
      cert: pki.caller.certPem,
      key: pki.caller.keyPem,
      ...opts,
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Keep-alive GETs on one TLS connection; the bodies in order. */
async function getAll(s: TLSSocket, host: string, paths: string[]): Promise<string[]> {
  const out: string[] = [];
  let buf = '';
  s.setEncoding('utf8');
  for (const path of paths) {
    s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:10250\r\n\r\n`);
    for (;;) {
      const head = buf.indexOf('\r\n\r\n');
      const len = head < 0 ? -1 : Number(/content-length: (\d+)/i.exec(buf.slice(0, head))?.[1] ?? -1);
      if (len >= 0 && buf.length >= head + 4 + len) {
        out.push(buf.slice(0, head + 4 + len));
        buf = buf.slice(head + 4 + len);
        break;
      }
      buf += await new Promise<string>((resolve, reject) => {
        s.once('data', resolve);
        s.once('error', reject);
      });
    }
  }
  return out;
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('curl', ['-sS', '--max-time', '5', ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

t.test('passthrough: the caller verifies the kubelet, the kubelet verifies the caller', async (t) => {
  const server = await startServer(t, pki, [PASSTHROUGH]);
  t.ok(
    server.logs.find((l) => l['httpsMode'] === 'passthrough' && /holds no kubelet-client certificate/.test(String(l['msg']))),
    'says so at start',
  );
  const node = await startNode(t, pki, server, 'edge-a', '127.0.125.1');
  const s = await dial(server, { servername: 'edge-a' });
  t.equal(s.authorized, true, 'the kubelet serving certificate verifies against the kubelet CA for name edge-a');
  t.equal(s.getPeerCertificate().subject.CN, 'edge-a', "the certificate is the kubelet's, not the server's");
  const [pods, healthz] = await getAll(s, 'edge-a', ['/pods', '/healthz']);
  t.match(pods, /^HTTP\/1\.1 200/);
  t.match(pods, /"nodeName":"edge-a"/);
  t.match(healthz, /^HTTP\/1\.1 200[\s\S]*ok$/, 'a second request on the same connection');
  t.match(node.agent.opens.at(-1), { host: '127.0.125.1', port: 10250, kind: 'passthrough' });
  t.equal(node.agent.opens.length, 1, 'one stream for the keep-alive connection');
  s.end();
  const audit = await server.logs.waitFor((l) => l['msg'] === 'audit');
  t.match(audit, { listener: 'https', mode: 'passthrough', sni: 'edge-a', nodeName: 'edge-a', port: 10250, status: 200, caller: /^127\.0\.0\.1:\d+$/ });
  t.ok((audit['bytesIn'] as number) > 200 && (audit['bytesOut'] as number) > 500, `bytes each way: ${audit['bytesIn']} in, ${audit['bytesOut']} out`);

  const dir = mkdtempSync(join(tmpdir(), 'et-passthrough-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of [
    ['ca.pem', pki.clusterCa.certPem],
    ['caller.pem', pki.caller.certPem],
    ['caller.key', pki.key.privateKeyPem],
  ] as const)
    writeFileSync(join(dir, name), text);
  const { port } = server.addr.https;
  const ok = await curl([
    '--cacert',
    join(dir, 'ca.pem'),
    '--cert',
    join(dir, 'caller.pem'),
    '--key',
    join(dir, 'caller.key'),
    '--connect-to',
    `edge-a:10250:127.0.0.1:${port}`,
    'https://edge-a:10250/healthz',
  ]);
  t.strictSame([ok.code, ok.stdout], [0, 'ok'], 'curl --cacert <kubelet CA> verifies the kubelet through the tunnel');
  const anonymous = await curl(['--cacert', join(dir, 'ca.pem'), '--connect-to', `edge-a:10250:127.0.0.1:${port}`, 'https://edge-a:10250/healthz']);
  t.not(anonymous.code, 0, 'no client certificate: the kubelet itself refuses the caller');
});

t.test('a wrong kubelet certificate fails as a certificate error, not a tunnel error', async (t) => {
  const server = await startServer(t, pki, [PASSTHROUGH]);
  const foreign = await issueCertificate(pki.foreignCa, { profile: 'server', commonName: 'edge-f', ips: ['127.0.125.2'], dnsNames: ['edge-f'], key: pki.key });
  await startNode(t, pki, server, 'edge-f', '127.0.125.2', {}, { serving: foreign });
  const otherName = await issueCertificate(pki.clusterCa, {
    profile: 'server',
    commonName: 'edge-x',
    ips: ['127.0.125.9'],
    dnsNames: ['edge-x'],
    key: pki.key,
  });
  await startNode(t, pki, server, 'edge-n', '127.0.125.3', {}, { serving: otherName });
  await t.rejects(dial(server, { servername: 'edge-f' }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'signed by another CA');
  await t.rejects(dial(server, { servername: 'edge-n' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'issued for another node name');
  const dir = mkdtempSync(join(tmpdir(), 'et-passthrough-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.pem'), pki.clusterCa.certPem);
  const r = await curl(['--cacert', join(dir, 'ca.pem'), '--connect-to', `edge-f:10250:127.0.0.1:${server.addr.https.port}`, 'https://edge-f:10250/healthz']);
  t.equal(r.code, 60, `curl: peer certificate cannot be authenticated (${r.stderr.trim()})`);
  t.notOk(
    server.logs.find((l) => l['msg'] === 'passthrough refused'),
    'the tunnel refused nothing',
  );
});

t.test('no SNI, an unknown name: TLS alert unrecognized_name and a warn line naming the fix', async (t) => {
  const server = await startServer(t, pki, [PASSTHROUGH]);
  await startNode(t, pki, server, 'edge-a', '127.0.125.1');
  await t.rejects(dial(server, { servername: '' }), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' }, 'no SNI');
  const noKey = await server.logs.waitFor((l) => l['msg'] === 'passthrough refused');
  t.match(noKey, {
    code: 'NO_ROUTING_KEY',
    alert: 'unrecognized_name',
    reason: /names no server \(SNI\).*--kubelet-preferred-address-types=Hostname.*--capture=iptables/,
  });
  await t.rejects(dial(server, { servername: 'edge-zz' }), { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' }, 'unknown node');
  const unknown = await server.logs.waitFor((l) => l['msg'] === 'passthrough refused' && l['sni'] === 'edge-zz');
  t.match(unknown, { code: 'NODE_UNKNOWN', alert: 'unrecognized_name', port: 10250 });
  t.ok(
    server.logs.find((l) => l['msg'] === 'audit' && l['reason'] === 'NODE_UNKNOWN' && l['sni'] === 'edge-zz' && l['status'] === 502),
    'audited',
  );
});

t.test('--https-mode: values, and no kubelet credential in passthrough', async (t) => {
  const base = ['--https-addr', '127.0.0.1:0'];
  t.throws(() => parseConfig([...base, '--https-mode', 'tunnel'], serverEnv(pki, false)), {
    code: 'ERR_SERVER_INVALID_CONFIG',
    message: /--https-mode .* must be one of terminate, passthrough/,
  });
  t.throws(() => parseConfig([...base, PASSTHROUGH], serverEnv(pki, true)), {
    message: /--kubelet-client-cert, --kubelet-client-key, --kubelet-ca are not used with --https-mode=passthrough/,
  });
  const ok = parseConfig([...base, PASSTHROUGH, '--require-caller-cert=true'], { ...serverEnv(pki, false), EDGE_TUNNEL_CALLER_CA: '' });
  t.equal(ok.help === false && ok.config.httpsMode, 'passthrough', 'no --caller-ca needed: the kubelet checks callers');
  const def = parseConfig(base, serverEnv(pki, true));
  t.equal(def.help === false && def.config.httpsMode, 'terminate', 'terminate is the default');
});

t.test('routing key: the original destination when it is a node IP, else the SNI', async (t) => {
  const isNode = (ip: string): boolean => ip === '10.126.1.2';
  t.strictSame(
    passthroughDest({ sni: 'edge-a', original: { ip: '10.126.1.2', port: 10250 } }, isNode),
    { host: '10.126.1.2', port: 10250 },
    'iptables capture: what the caller dialled',
  );
  t.strictSame(
    passthroughDest({ sni: 'edge-a', original: { ip: '10.96.0.10', port: 10250 } }, isNode),
    { host: 'edge-a', port: 10250 },
    'a Service DNAT names no node: the SNI',
  );
  t.strictSame(
    passthroughDest({ sni: undefined, original: { ip: '10.96.0.10', port: 10250 } }, isNode),
    { host: '10.96.0.10', port: 10250 },
    'no SNI: the original destination, whose miss is precise',
  );
  t.strictSame(passthroughDest({ sni: 'edge-a', original: undefined }), { host: 'edge-a', port: 10250 });
  t.match(passthroughDest({ sni: undefined, original: undefined }), { status: 421, reason: 'NO_ROUTING_KEY' });
  t.strictSame(
    [alertOf('NODE_UNKNOWN'), alertOf('PORT_NOT_CONFIGURED'), alertOf('NO_TUNNEL'), alertOf('MALFORMED_REQUEST')],
    ['unrecognized_name', 'access_denied', 'internal_error', 'decode_error'],
  );
  t.strictSame([...alertRecord('unrecognized_name')], [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112], 'a fatal alert record');
});
