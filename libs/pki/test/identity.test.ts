import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PkiErrorCode, certIdentity, issueAgentCert } from '../src/index.js';
import { openssl, testCas, testKeys } from './fixtures/pki.js';

t.test('certIdentity of an agent cert', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const agent = await issueAgentCert(ca, 'edge-3', ['10.3.0.3', '::ffff:10.3.0.4', '2001:DB8::3'], { key: k.leafA });
  const id = certIdentity(agent.certPem);
  const x509 = new X509Certificate(agent.certPem);
  t.same(id, {
    commonName: 'edge-3',
    organization: ['system:nodes'],
    dnsNames: ['edge-3'],
    ips: ['10.3.0.3', '::ffff:a03:4', '2001:db8::3'],
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    issuerCommonName: 'test-ca',
    fingerprint256: x509.fingerprint256,
  });
  t.equal(certIdentity(agent.certPem + ca.certPem).commonName, 'edge-3', 'first cert of a chain');
});

t.test('certIdentity reads non-RSA certificates with UTF-8 names and several O values (made by openssl)', async (t) => {
  const dir = t.testdir();
  const certPath = join(dir, 'ec.crt');
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    join(dir, 'ec.key'),
    '-out',
    certPath,
    '-utf8',
    '-subj',
    '/CN=nœud-ä/O=team a/O=team, b',
    '-addext',
    'subjectAltName=DNS:ec.example,DNS:*.ec.example,IP:10.1.2.3,IP:fd00::2',
  ]);
  const id = certIdentity(readFileSync(certPath, 'utf8'));
  t.match(id, {
    commonName: 'nœud-ä',
    organization: ['team a', 'team, b'],
    dnsNames: ['ec.example', '*.ec.example'],
    ips: ['10.1.2.3', 'fd00::2'],
    issuerCommonName: 'nœud-ä',
  });
  t.equal(Math.round((id.notAfter.getTime() - id.notBefore.getTime()) / 86400000), 2);
});

t.test('certIdentity rejects what is not a certificate', async (t) => {
  const k = await testKeys();
  for (const pem of ['', 'garbage', k.leafA.publicKeyPem, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n']) {
    t.throws(() => certIdentity(pem), { code: PkiErrorCode.INVALID_CERT });
  }
});
