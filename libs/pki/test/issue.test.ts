import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import t from 'tap';
import {
  PkiErrorCode,
  certIdentity,
  checkIssueOptions,
  issueAgentCert,
  issueCallerCert,
  issueCertificate,
  issueKubeletClientCert,
  issueServerCert,
} from '../src/index.js';
import type { CertProfile } from '../src/index.js';
import { opensslVerify, testCas, testKeys } from './fixtures/pki.js';

const DAY = 24 * 3600 * 1000;

t.test('profiles set extKeyUsage; the chain verifies; AKI = CA SKI', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caSki = (caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string }).subjectKeyIdentifier;
  const table: [CertProfile, { serverAuth?: boolean; clientAuth?: boolean }][] = [
    ['server', { serverAuth: true }],
    ['client', { clientAuth: true }],
    ['agent', { clientAuth: true }],
  ];
  for (const [profile, eku] of table) {
    const issued = await issueCertificate(ca, { profile, commonName: 'node-a', dnsNames: ['node-a'], key: k.leafA });
    t.equal(issued.caPem, ca.certPem);
    t.equal(issued.keyPem, k.leafA.privateKeyPem);
    const cert = forge.pki.certificateFromPem(issued.certPem);
    const ext = cert.getExtension('extKeyUsage') as Record<string, unknown>;
    t.equal(Boolean(ext.serverAuth), Boolean(eku.serverAuth), `${profile} serverAuth`);
    t.equal(Boolean(ext.clientAuth), Boolean(eku.clientAuth), `${profile} clientAuth`);
    t.match(cert.getExtension('basicConstraints'), { cA: false });
    t.match(cert.getExtension('keyUsage'), { digitalSignature: true, keyCertSign: false });
    const aki = cert.getExtension('authorityKeyIdentifier') as { value: string };
    t.ok(forge.util.bytesToHex(aki.value).endsWith(caSki), `${profile} AKI matches CA SKI`);
    const x509 = new X509Certificate(issued.certPem);
    t.ok(x509.checkIssued(new X509Certificate(ca.certPem)) && x509.verify(new X509Certificate(ca.certPem).publicKey));
  }
});

t.test('openssl verify accepts each leaf for its purpose and refuses the wrong purpose', async (t) => {
  const k = await testKeys();
  const { ca, foreignCa } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'], key: k.leafA });
  const agent = await issueAgentCert(ca, 'edge-1', ['10.0.0.1'], { key: k.leafB });
  const kubelet = await issueKubeletClientCert(ca, { key: k.leafA });
  t.match(await opensslVerify(ca.certPem, server.certPem, 'sslserver'), { ok: true, output: /OK/ });
  t.match(await opensslVerify(ca.certPem, agent.certPem, 'sslclient'), { ok: true });
  t.match(
    await opensslVerify(ca.certPem, agent.certPem, 'sslserver'),
    { ok: false, output: /unsuitable certificate purpose/ },
    'an agent certificate is no server certificate',
  );
  t.match(await opensslVerify(ca.certPem, kubelet.certPem, 'sslclient'), { ok: true });
  t.match(await opensslVerify(ca.certPem, server.certPem, 'sslclient'), { ok: false, output: /unsuitable certificate purpose/ });
  t.match(await opensslVerify(foreignCa.certPem, agent.certPem), { ok: false });
});

t.test('agent: CN = node name, O = system:nodes, DNS SAN = node name, IP SANs normalized', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const agent = await issueAgentCert(ca, 'edge-7.site-b', ['10.0.0.7', 'FD00:0:0::7', '10.0.0.7'], { key: k.leafA });
  t.match(certIdentity(agent.certPem), {
    commonName: 'edge-7.site-b',
    organization: ['system:nodes'],
    dnsNames: ['edge-7.site-b'],
    ips: ['10.0.0.7', 'fd00::7'],
    issuerCommonName: 'test-ca',
  });
  const custom = await issueCertificate(ca, { profile: 'agent', commonName: 'edge-8', organization: ['o1', 'o2'], dnsNames: ['edge-8.local'], key: k.leafA });
  t.match(certIdentity(custom.certPem), { organization: ['o1', 'o2'], dnsNames: ['edge-8', 'edge-8.local'] });
});

t.test('convenience issuers use the project names', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const key = { key: k.leafA };
  t.match(certIdentity((await issueServerCert(ca, { dnsNames: ['a.example'], ...key })).certPem), {
    commonName: 'edge-tunnel-server',
    dnsNames: ['a.example'],
    organization: [],
  });
  t.match(certIdentity((await issueKubeletClientCert(ca, key)).certPem), { commonName: 'edge-tunnel-server-kubelet-client', organization: [], dnsNames: [] });
  t.match(certIdentity((await issueCallerCert(ca, undefined, key)).certPem), { commonName: 'kube-apiserver-kubelet-client' });
  t.match(certIdentity((await issueCallerCert(ca, 'audit-probe', key)).certPem), { commonName: 'audit-probe' });
});

t.test('serial numbers are random, positive and minimal DER', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const serials = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const { certPem } = await issueCallerCert(ca, 'c', { key: k.leafA });
    const serial = new X509Certificate(certPem).serialNumber;
    t.ok(parseInt(serial.slice(0, 2), 16) >= 1 && parseInt(serial.slice(0, 2), 16) <= 0x7f, `serial ${serial}`);
    serials.add(serial);
  }
  t.equal(serials.size, 5);
});

t.test('validity: days, explicit window, notAfter alone, bad windows', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const span = (pem: string): number => {
    const id = certIdentity(pem);
    return Math.round((id.notAfter.getTime() - id.notBefore.getTime()) / DAY);
  };
  t.equal(span((await issueCallerCert(ca, 'c', { key: k.leafA })).certPem), 365, 'default 365 days');
  t.equal(span((await issueCallerCert(ca, 'c', { key: k.leafA, validityDays: 7 })).certPem), 7);
  const notBefore = new Date('2030-01-01T00:00:00Z');
  const notAfter = new Date('2030-02-01T00:00:00Z');
  const fixed = certIdentity((await issueCertificate(ca, { profile: 'client', commonName: 'c', notBefore, notAfter, key: k.leafA })).certPem);
  t.same([fixed.notBefore, fixed.notAfter], [notBefore, notAfter]);
  const past = certIdentity(
    (await issueCertificate(ca, { profile: 'client', commonName: 'c', notAfter: new Date(Date.now() - DAY), validityDays: 2, key: k.leafA })).certPem,
  );
  t.ok(past.notAfter.getTime() < Date.now() && Math.round((past.notAfter.getTime() - past.notBefore.getTime()) / DAY) === 2);
  await t.rejects(issueCertificate(ca, { profile: 'client', commonName: 'c', notBefore: notAfter, notAfter: notBefore, key: k.leafA }), {
    code: PkiErrorCode.INVALID_OPTIONS,
  });
  await t.rejects(issueCertificate(ca, { profile: 'client', commonName: 'c', notAfter: new Date('nope'), key: k.leafA }), {
    code: PkiErrorCode.INVALID_OPTIONS,
  });
  await t.rejects(issueCertificate(ca, { profile: 'client', commonName: 'c', validityDays: Number.POSITIVE_INFINITY, key: k.leafA }), {
    code: PkiErrorCode.INVALID_OPTIONS,
  });
});

t.test('bad names, addresses and profiles are rejected with ERR_PKI_INVALID_OPTIONS', async (t) => {
  const { ca } = await testCas();
  const bad: [string, Parameters<typeof issueCertificate>[1]][] = [
    ['server without SANs', { profile: 'server', commonName: 's' }],
    ['agent name with capitals', { profile: 'agent', commonName: 'Edge-1' }],
    ['agent name with underscore', { profile: 'agent', commonName: 'edge_1' }],
    ['agent name too long for CN', { profile: 'agent', commonName: 'a'.repeat(65) }],
    ['bad IP', { profile: 'agent', commonName: 'edge-1', ips: ['10.0.0.300'] }],
    ['IPv6 with zone', { profile: 'agent', commonName: 'edge-1', ips: ['fe80::1%eth0'] }],
    ['bad DNS name', { profile: 'server', commonName: 's', dnsNames: ['a b'] }],
    ['empty CN', { profile: 'client', commonName: '' }],
    ['empty O', { profile: 'client', commonName: 'c', organization: [''] }],
    ['unknown profile', { profile: 'peer' as CertProfile, commonName: 'c' }],
  ];
  for (const [name, opts] of bad) {
    await t.rejects(issueCertificate(ca, opts), { code: PkiErrorCode.INVALID_OPTIONS }, name);
    t.throws(() => checkIssueOptions(opts), { code: PkiErrorCode.INVALID_OPTIONS }, `checkIssueOptions: ${name}`);
  }
  t.doesNotThrow(() => checkIssueOptions({ profile: 'agent', commonName: 'edge-1', ips: ['10.0.0.1'] }));
  await t.resolves(
    issueCertificate(ca, { profile: 'server', commonName: 's', dnsNames: ['*.edge.example'], key: (await testKeys()).leafA }),
    'wildcard DNS is allowed',
  );
});

t.test('an unusable CA is rejected with ERR_PKI_INVALID_CA', async (t) => {
  const k = await testKeys();
  const { ca, foreignCa } = await testCas();
  const leaf = await issueCallerCert(ca, 'c', { key: k.leafA });
  const cases: [string, { certPem: string; keyPem: string }][] = [
    ['leaf as CA', { certPem: leaf.certPem, keyPem: leaf.keyPem }],
    ['key of another CA', { certPem: ca.certPem, keyPem: foreignCa.keyPem }],
    ['garbage cert', { certPem: 'garbage', keyPem: ca.keyPem }],
    ['garbage key', { certPem: ca.certPem, keyPem: 'garbage' }],
  ];
  for (const [name, bundle] of cases) await t.rejects(issueCallerCert(bundle, 'c', { key: k.leafA }), { code: PkiErrorCode.INVALID_CA }, name);
});
