// The CA Secret (loadOrCreateCa, caFromSecret) and Enroller against the fake API server: created once,
// races, unusable Secrets; tokens, unknown nodes, bad CSRs, no bootstrap Secret.
import t from 'tap';
import type { FakeApiServer } from '@edge-tunnel/fake-apiserver';
import { certIdentity, createCsr, generateKeyPair } from '@edge-tunnel/pki';
import { caFromSecret, loadOrCreateCa } from '../src/ca-secret.js';
import { Enroller } from '../src/enroll.js';
import { recordingLogger, withServer } from './fixtures/harness.js';

t.test('enroll', async (t) => {
  const NS = 'kube-system';
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const secretCreates = (server: FakeApiServer) => server.requests.filter((r) => r.method === 'POST' && r.path === `/api/v1/namespaces/${NS}/secrets`).length;

  t.test('the CA Secret is created once and reused', async (t) => {
    const { server, kc } = await withServer(t);
    const first = await loadOrCreateCa(kc);
    t.equal(first.created, true);
    const secret = server.store.get('secrets', NS, 'edge-tunnel-ca')!;
    t.equal(secret.type, 'kubernetes.io/tls');
    t.equal(Buffer.from((secret.data as Record<string, string>)['tls.crt']!, 'base64').toString(), first.certPem);
    t.equal(certIdentity(first.certPem).commonName, 'edge-tunnel-ca');
    const second = await loadOrCreateCa(kc);
    t.equal(second.created, false);
    t.equal(second.certPem, first.certPem);
    t.equal(second.keyPem, first.keyPem);
    t.equal(secretCreates(server), 1);
  });

  t.test('two servers racing to create the CA end up with the same one', async (t) => {
    const { server, kc } = await withServer(t);
    const [a, b] = await Promise.all([loadOrCreateCa(kc, { name: 'race-ca' }), loadOrCreateCa(kc, { name: 'race-ca' })]);
    t.equal(a.certPem, b.certPem);
    t.equal([a.created, b.created].filter(Boolean).length, 1, 'one created it, the other read it');
    t.ok(secretCreates(server) <= 2);
  });

  t.test('an unusable CA Secret is reported, never overwritten', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('secrets', {
      metadata: { name: 'edge-tunnel-ca', namespace: NS },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64('nope'), 'tls.key': b64('nope') },
    });
    await t.rejects(loadOrCreateCa(kc), { code: 'ERR_KUBE_CA_SECRET' });
    t.equal(secretCreates(server), 0);
    const ca = await loadOrCreateCa(kc, { name: 'good' });
    t.throws(() => caFromSecret({ data: { 'tls.crt': b64(ca.certPem) } }), { code: 'ERR_KUBE_CA_SECRET' });
    t.throws(() => caFromSecret({ data: { 'tls.crt': b64('-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n'), 'tls.key': b64(ca.keyPem) } }), {
      code: 'ERR_KUBE_CA_SECRET',
    });
    t.same(caFromSecret({ data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) } }), { certPem: ca.certPem, keyPem: ca.keyPem });
    await server.close();
    await t.rejects(loadOrCreateCa(kc, { name: 'x' }), { code: 'ERR_KUBE_API' });
  });

  t.test('enrollment', async (t) => {
    const { server, kc } = await withServer(t);
    const ca = await loadOrCreateCa(kc);
    server.store.put('secrets', {
      metadata: { name: 'edge-tunnel-bootstrap', namespace: NS },
      stringData: { token: 'tok-main', 'token-site2': 'tok-site2', other: 'not-a-token' },
    });
    const edge = { 'openyurt.io/is-edge-worker': 'true' };
    server.store.put('nodes', {
      metadata: { name: 'edge-1', labels: edge },
      status: {
        addresses: [
          { type: 'InternalIP', address: '10.0.0.7' },
          { type: 'ExternalIP', address: '198.51.100.7' },
          { type: 'InternalIP', address: 'fd00::7' },
        ],
      },
    });
    for (const name of ['edge-2', 'edge-3']) server.store.put('nodes', { metadata: { name, labels: edge }, status: { addresses: [] } });
    const log = recordingLogger();
    const enroller = new Enroller(kc, { ca, logger: log, validityDays: 30 });
    const key = await generateKeyPair();
    const lyingCsr = createCsr(key, 'kube-apiserver'); // claims another identity: ignored

    await t.test('good token and known node: a cert for the node whatever the CSR claims', async (t) => {
      const signed = await enroller.enroll({ token: 'tok-main', nodeName: 'edge-1', csrPem: lyingCsr });
      const id = certIdentity(signed.certPem);
      t.equal(id.commonName, 'edge-1');
      t.same(id.dnsNames, ['edge-1']);
      t.same(id.ips, ['10.0.0.7', 'fd00::7'], 'InternalIPs only');
      t.equal(id.issuerCommonName, 'edge-tunnel-ca');
      t.equal(signed.caPem, ca.certPem);
      t.ok(id.notAfter.getTime() - Date.now() < 31 * 86400_000, 'validityDays honoured');
      const other = await enroller.enroll({ token: 'tok-site2', nodeName: 'edge-2', csrPem: lyingCsr });
      t.equal(certIdentity(other.certPem).commonName, 'edge-2', 'token-<id> keys work too');
    });

    await t.test('bad token', async (t) => {
      for (const token of ['wrong', '', 'not-a-token', 'tok-mai', 'tok-main ']) {
        await t.rejects(
          enroller.enroll({ token, nodeName: 'edge-1', csrPem: lyingCsr }),
          { name: 'KubeError', code: 'ERR_KUBE_ENROLL_BAD_TOKEN' },
          JSON.stringify(token),
        );
      }
      await t.rejects(
        enroller.enroll({ token: 'wrong', nodeName: 'nope', csrPem: lyingCsr }),
        { code: 'ERR_KUBE_ENROLL_BAD_TOKEN' },
        'the token is checked before the node',
      );
      t.ok(log.lines.some((l) => l.level === 'warn' && l.obj.code === 'ERR_KUBE_ENROLL_BAD_TOKEN'));
    });

    await t.test('unknown node', async (t) => {
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: 'edge-404', csrPem: lyingCsr }), {
        code: 'ERR_KUBE_ENROLL_UNKNOWN_NODE',
        message: /edge-404 does not exist/,
      });
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: '../../etc', csrPem: lyingCsr }), { code: 'ERR_KUBE_ENROLL_UNKNOWN_NODE' });
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: '', csrPem: lyingCsr }), { code: 'ERR_KUBE_ENROLL_UNKNOWN_NODE' });
    });

    await t.test('bad CSR', async (t) => {
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: 'edge-3', csrPem: 'garbage' }), { code: 'ERR_KUBE_ENROLL_BAD_CSR' });
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: 'edge-3', csrPem: '' }), { code: 'ERR_KUBE_ENROLL_BAD_CSR' });
    });

    await t.test('no bootstrap Secret: every token is bad, with a reason naming the Secret', async (t) => {
      const e2 = new Enroller(kc, { ca, secretName: 'missing' });
      await t.rejects(e2.enroll({ token: 'tok-main', nodeName: 'edge-1', csrPem: lyingCsr }), {
        code: 'ERR_KUBE_ENROLL_BAD_TOKEN',
        message: /kube-system\/missing does not exist/,
      });
    });
  });
});
