import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import t from 'tap';
import { PkiErrorCode, certIdentity, createCa } from '../src/index.js';
import { testKeys } from './fixtures/pki.js';

const DAY = 24 * 3600 * 1000;

t.test('createCa: self-signed CA with the CA extensions', async (t) => {
  const k = await testKeys();
  const before = Date.now();
  const ca = await createCa({ commonName: 'edge-tunnel-ca', key: k.ca });
  t.equal(ca.keyPem, k.ca.privateKeyPem, 'given key is used');

  const x509 = new X509Certificate(ca.certPem);
  t.equal(x509.ca, true);
  t.ok(x509.verify(x509.publicKey), 'self-signature verifies');
  t.ok(x509.checkIssued(x509), 'issuer = subject');

  const cert = forge.pki.certificateFromPem(ca.certPem);
  t.match(cert.getExtension('basicConstraints'), { cA: true, critical: true });
  t.match(cert.getExtension('keyUsage'), { keyCertSign: true, cRLSign: true, critical: true });
  const ski = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
  t.equal(ski.subjectKeyIdentifier, cert.generateSubjectKeyIdentifier().toHex());

  const id = certIdentity(ca.certPem);
  t.equal(id.commonName, 'edge-tunnel-ca');
  t.equal(id.issuerCommonName, 'edge-tunnel-ca');
  const days = (id.notAfter.getTime() - id.notBefore.getTime()) / DAY;
  t.equal(Math.round(days), 3650, 'default validity is ten years');
  t.ok(id.notBefore.getTime() <= before, 'notBefore is backdated for clock skew');
});

t.test('createCa: validityDays and a generated key', async (t) => {
  const ca = await createCa({ commonName: 'short-ca', validityDays: 30 });
  const id = certIdentity(ca.certPem);
  t.equal(Math.round((id.notAfter.getTime() - id.notBefore.getTime()) / DAY), 30);
  t.match(ca.keyPem, /BEGIN PRIVATE KEY/);
});

t.test('createCa rejects bad options before generating a key', async (t) => {
  for (const opts of [
    { commonName: '' },
    { commonName: 'x'.repeat(65) },
    { commonName: 'a\nb' },
    { commonName: 'ok', validityDays: 0 },
    { commonName: 'ok', validityDays: -1 },
  ]) {
    await t.rejects(createCa(opts), { code: PkiErrorCode.INVALID_OPTIONS }, JSON.stringify(opts));
  }
});
