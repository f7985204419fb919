// Certificates from this library in real TLS handshakes (node:tls, sockets on 127.0.0.1:0).
import t from 'tap';
import { certIdentity, issueAgentCert, issueCallerCert, issueCertificate, issueServerCert } from '../src/index.js';
import { testCas, testKeys } from './fixtures/pki.js';
import { handshake } from './fixtures/tls.js';

const DAY = 24 * 3600 * 1000;

t.test('agent cert: mutual TLS succeeds and the server sees CN = node name and SAN IPs', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'], key: k.leafA });
  const agent = await issueAgentCert(ca, 'edge-node-1', ['10.20.0.7', '192.168.1.7'], { key: k.leafB });

  for (const servername of ['localhost', undefined]) {
    // DNS SAN, then IP SAN (host 127.0.0.1)
    const r = await handshake(server, { ...agent, servername });
    t.equal(r.clientError, undefined, `client ok (${servername ?? 'ip'})`);
    t.equal(r.serverError, undefined);
    t.equal(r.received, 'ok');
    t.equal(r.serverPeer?.subject.CN, 'edge-node-1');
    t.equal(r.serverPeer?.subject.O, 'system:nodes');
    t.match(r.serverPeer?.subjectaltname, /IP Address:10\.20\.0\.7.*IP Address:192\.168\.1\.7/);
    const id = certIdentity(`-----BEGIN CERTIFICATE-----\n${r.serverPeer!.raw.toString('base64')}\n-----END CERTIFICATE-----\n`);
    t.equal(id.commonName, 'edge-node-1');
    t.same(id.ips, ['10.20.0.7', '192.168.1.7']);
  }
});

t.test('caller (client profile) cert is accepted by the proxy-style listener', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], key: k.leafA });
  const caller = await issueCallerCert(ca, undefined, { key: k.leafB });
  const r = await handshake(server, { ...caller, servername: 'localhost' });
  t.equal(r.received, 'ok');
  t.equal(r.serverPeer?.subject.CN, 'kube-apiserver-kubelet-client');
});

t.test('a client cert from a foreign CA is rejected', async (t) => {
  const k = await testKeys();
  const { ca, foreignCa } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], key: k.leafA });
  const impostor = await issueAgentCert(foreignCa, 'edge-node-1', ['10.20.0.7'], { key: k.leafB });
  const client = { ...impostor, caPem: ca.certPem, servername: 'localhost' };
  const r = await handshake(server, client);
  t.equal(r.serverPeer, undefined, 'server never accepted the connection');
  t.equal(r.received, '', 'client received nothing');
  t.ok(r.serverError, 'server reported a TLS client error');
  const why = await handshake(server, client, 'report');
  t.match(why.authorizationError, /UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)/);
});

t.test('no client cert at all is rejected', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], key: k.leafA });
  const r = await handshake(server, { caPem: ca.certPem, servername: 'localhost' });
  t.equal(r.serverPeer, undefined);
  t.equal(r.received, '');
  t.equal(r.clientError?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
});

t.test('a server-profile cert cannot be used as a client cert', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], key: k.leafA });
  const wrongProfile = await issueCertificate(ca, { profile: 'server', commonName: 'edge-node-1', dnsNames: ['edge-node-1'], key: k.leafB });
  const r = await handshake(server, { ...wrongProfile, servername: 'localhost' });
  t.equal(r.serverPeer, undefined);
  t.equal(r.received, '');
  const why = await handshake(server, { ...wrongProfile, servername: 'localhost' }, 'report');
  t.equal(why.authorizationError, 'INVALID_PURPOSE');
});

t.test('an expired client cert is rejected by the verifying server', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], key: k.leafA });
  const expired = await issueCertificate(ca, {
    profile: 'agent',
    commonName: 'edge-node-1',
    ips: ['10.20.0.7'],
    key: k.leafB,
    notAfter: new Date(Date.now() - DAY),
  });
  t.ok(certIdentity(expired.certPem).notAfter.getTime() < Date.now());
  const r = await handshake(server, { ...expired, servername: 'localhost' });
  t.equal(r.serverPeer, undefined);
  t.equal(r.received, '');
  const why = await handshake(server, { ...expired, servername: 'localhost' }, 'report');
  t.equal(why.authorizationError, 'CERT_HAS_EXPIRED');
});

t.test('an expired server cert is rejected by the verifying client', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const expired = await issueCertificate(ca, {
    profile: 'server',
    commonName: 'edge-tunnel-server',
    dnsNames: ['localhost'],
    key: k.leafA,
    notBefore: new Date(Date.now() - 10 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const agent = await issueAgentCert(ca, 'edge-node-1', ['10.20.0.7'], { key: k.leafB });
  const r = await handshake(expired, { ...agent, servername: 'localhost' });
  t.equal(r.clientError?.code, 'CERT_HAS_EXPIRED');
  t.equal(r.received, '');
});

t.test('the server cert is checked against the name the client dials', async (t) => {
  const k = await testKeys();
  const { ca } = await testCas();
  const server = await issueServerCert(ca, { dnsNames: ['edge-tunnel-server'], key: k.leafA });
  const agent = await issueAgentCert(ca, 'edge-node-1', [], { key: k.leafB });
  const r = await handshake(server, { ...agent, servername: 'localhost' });
  t.equal(r.clientError?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
});
