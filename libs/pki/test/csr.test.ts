import { X509Certificate, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import forge from 'node-forge';
import t from 'tap';
import { PkiErrorCode, certIdentity, createCsr, issueServerCert, signCsr } from '../src/index.js';
import { openssl, opensslVerify, testCas, testKeys } from './fixtures/pki.js';
import { handshake } from './fixtures/tls.js';

t.test('createCsr: a PKCS#10 request openssl verifies, claiming the node name', async (t) => {
  const k = await testKeys();
  const csr = createCsr(k.leafA, 'edge-1');
  t.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
  const dir = t.testdir({ 'req.pem': csr });
  const text = await openssl(['req', '-in', join(dir, 'req.pem'), '-noout', '-verify', '-subject']);
  t.match(text, /verify OK/);
  t.match(text, /subject=CN = edge-1, O = system:nodes/);
  const parsed = forge.pki.certificationRequestFromPem(csr);
  t.ok(parsed.verify());
  t.equal(parsed.subject.getField('CN').value, 'edge-1');
  t.equal(parsed.subject.getField('O').value, 'system:nodes');
});

t.test('signCsr issues the server-chosen identity, whatever the CSR claims', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const csr = createCsr(k.leafB, 'control-plane'); // a greedy claim
  const signed = await signCsr(ca, csr, { nodeName: 'edge-9', ips: ['10.9.0.9'], validityDays: 10 });
  t.equal(signed.caPem, ca.certPem);
  t.notOk('keyPem' in signed, 'no private key in the result');
  t.match(certIdentity(signed.certPem), { commonName: 'edge-9', organization: ['system:nodes'], dnsNames: ['edge-9'], ips: ['10.9.0.9'] });
  const certKey = new X509Certificate(signed.certPem).publicKey.export({ type: 'spki', format: 'pem' });
  t.equal(certKey, createPublicKey(k.leafB.publicKeyPem).export({ type: 'spki', format: 'pem' }), 'cert carries the CSR key');
  t.match(await opensslVerify(ca.certPem, signed.certPem, 'sslclient'), { ok: true });

  // The holder of the CSR's key can use the certificate for mutual TLS.
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], key: k.leafA });
  const r = await handshake(server, { certPem: signed.certPem, keyPem: k.leafB.privateKeyPem, caPem: ca.certPem, servername: 'localhost' });
  t.equal(r.serverPeer?.subject.CN, 'edge-9');
});

t.test('tampered or malformed CSRs are rejected with ERR_PKI_INVALID_CSR', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const csr = createCsr(k.leafA, 'edge-1');
  const der = Buffer.from(forge.pem.decode(csr)[0]!.body, 'binary');
  const toPem = (b: Buffer): string => forge.pem.encode({ type: 'CERTIFICATE REQUEST', body: b.toString('binary') });

  const renamed = Buffer.from(der);
  const at = renamed.indexOf('edge-1');
  t.ok(at > 0);
  renamed.write('edge-2', at, 'latin1'); // change the signed subject, keep the signature

  const flipped = Buffer.from(der);
  flipped[flipped.length - 5]! ^= 0x01; // one bit of the signature

  const foreignSig = forge.pki.certificationRequestFromPem(createCsr(k.leafB, 'edge-1'));
  const mixed = forge.pki.certificationRequestFromPem(csr);
  mixed.signature = foreignSig.signature; // someone else's signature over the same claims

  const cases: [string, string][] = [
    ['subject changed', toPem(renamed)],
    ['signature bit flipped', toPem(flipped)],
    ['signature from another key', forge.pki.certificationRequestToPem(mixed)],
    ['truncated', toPem(der.subarray(0, der.length - 20))],
    ['not a PEM', 'hello'],
    ['a certificate instead', ca.certPem],
  ];
  for (const [name, pem] of cases) {
    await t.rejects(signCsr(ca, pem, { nodeName: 'edge-1', ips: [] }), { code: PkiErrorCode.INVALID_CSR }, name);
  }
});

t.test('signCsr validates the granted identity first', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const csr = createCsr(k.leafA, 'edge-1');
  await t.rejects(signCsr(ca, csr, { nodeName: 'Bad_Name', ips: [] }), { code: PkiErrorCode.INVALID_OPTIONS });
  await t.rejects(signCsr(ca, csr, { nodeName: 'edge-1', ips: ['nope'] }), { code: PkiErrorCode.INVALID_OPTIONS });
  t.throws(() => createCsr(k.leafA, 'Bad_Name'), { code: PkiErrorCode.INVALID_OPTIONS });
});

t.test('signCsr refuses RSA keys under 2048 bits and EC keys (openssl-made CSRs)', async (t) => {
  const { ca } = await testCas();
  const dir = t.testdir({});
  const make = async (name: string, newkey: string[]): Promise<string> => {
    await openssl(['req', '-new', ...newkey, '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', '/CN=edge-1']);
    const { readFile } = await import('node:fs/promises');
    return readFile(join(dir, `${name}.csr`), 'utf8');
  };
  const small = await make('rsa1024', ['-newkey', 'rsa:1024']);
  await t.rejects(signCsr(ca, small, { nodeName: 'edge-1', ips: [] }), {
    code: PkiErrorCode.INVALID_CSR,
    message: /RSA 1024 bits; an agent key must be RSA 2048 to 8192 bits/,
  });
  const ec = await make('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  await t.rejects(signCsr(ca, ec, { nodeName: 'edge-1', ips: [] }), { code: PkiErrorCode.INVALID_CSR });
  const ok = await make('rsa2048', ['-newkey', 'rsa:2048']);
  const signed = await signCsr(ca, ok, { nodeName: 'edge-1', ips: [] });
  t.equal(certIdentity(signed.certPem).commonName, 'edge-1', 'RSA 2048 is signed');
});
