// Issue 13 attack 2, the enroller's rules one by one: a token enrolls only edge Nodes, only the nodes
// its policy names, not after its expiration nor beyond max-uses; a node holding an unexpired
// certificate is never re-enrolled by a token (until an operator clears its record), and renews only
// with its newest certificate. Pure parts (parseTokens, tokenRefusal, matchesSelector) tested directly.
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { certIdentity, createCsr, generateKeyPair } from '@edge-tunnel/pki';
import { loadOrCreateCa } from '../src/ca-secret.js';
import { Enroller } from '../src/enroll.js';
import type { PresentedCert } from '../src/enroll.js';
import { matchToken, parseTokens, tokenRefusal } from '../src/enroll-tokens.js';
import { clearRecordCommand, recordsOf } from '../src/enrollments.js';
import { matchesSelector } from '../src/label-match.js';
import { EDGE, node, recordingLogger, withServer } from './fixtures/harness.js';

const NS = 'kube-system';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const presented = (certPem: string): PresentedCert => {
  const x = new X509Certificate(certPem);
  return { commonName: certIdentity(certPem).commonName, serial: x.serialNumber, notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) };
};

t.test('parseTokens and tokenRefusal: per-node, expiring, limited-use tokens', async (t) => {
  const tokens = parseTokens({
    token: b64('pool'),
    'token-b': b64('only-b'),
    'nodes-b': b64('edge-b, Edge-C'),
    'token-old': b64('old'),
    'expiration-old': b64('2020-01-01T00:00:00Z'),
    'token-two': b64('two'),
    'max-uses-two': b64('2'),
    'token-bad': b64('bad'),
    'expiration-bad': b64('tomorrow'),
    other: b64('x'),
    'token-empty': '',
  });
  t.same(tokens.map((x) => x.key).sort(), ['token', 'token-b', 'token-bad', 'token-old', 'token-two'], 'token keys only; empty ones skipped');
  const by = (secret: string) => matchToken(tokens, secret)!;
  t.equal(matchToken(tokens, 'nope'), undefined);
  t.equal(by('pool').key, 'token');
  const where = 'Secret kube-system/edge-tunnel-bootstrap';
  t.equal(tokenRefusal(by('pool'), 'edge-a', [], where), undefined, 'a pool token without policy enrolls any node');
  t.equal(tokenRefusal(by('only-b'), 'edge-b', [], where), undefined);
  t.equal(tokenRefusal(by('only-b'), 'edge-c', [], where), undefined, 'names are compared in lower case');
  t.match(tokenRefusal(by('only-b'), 'edge-a', [], where), { code: 'TOKEN_NOT_FOR_NODE', reason: /token-b is for node\(s\) edge-b, edge-c, not edge-a/ });
  t.match(tokenRefusal(by('old'), 'edge-a', [], where), { code: 'TOKEN_EXPIRED', reason: /expired at 2020-01-01T00:00:00.000Z/ });
  t.equal(tokenRefusal(by('old'), 'edge-a', [], where, new Date('2019-12-31T00:00:00Z')), undefined, 'valid before its expiration');
  t.match(
    tokenRefusal(by('bad'), 'edge-a', [], where),
    { code: 'TOKEN_EXPIRED', reason: /expiration-bad is not an RFC 3339 time/ },
    'an unreadable policy refuses (fail closed)',
  );
  t.equal(tokenRefusal(by('two'), 'edge-c', ['edge-a'], where), undefined);
  t.match(tokenRefusal(by('two'), 'edge-c', ['edge-a', 'edge-b'], where), { code: 'TOKEN_USED_UP', reason: /enrolled 2 node\(s\), its max-uses is 2/ });
  t.equal(tokenRefusal(by('two'), 'edge-b', ['edge-a', 'edge-b'], where), undefined, 'a node it enrolled already does not count twice');
});

t.test('matchesSelector', async (t) => {
  const labels = { 'alibabacloud.com/is-edge-worker': 'true', zone: 'a' };
  for (const [sel, want] of [
    ['alibabacloud.com/is-edge-worker=true', true],
    ['alibabacloud.com/is-edge-worker==true', true],
    ['openyurt.io/is-edge-worker=true', false],
    ['zone!=b', true],
    ['zone!=a', false],
    ['zone', true],
    ['!zone', false],
    ['!gpu', true],
    ['zone in (a,b)', true],
    ['zone notin (a)', false],
    ['zone=a,alibabacloud.com/is-edge-worker=true', true],
    ['zone=a,gpu', false],
    ['zone=(', false],
  ] as const) {
    t.equal(matchesSelector(labels, sel), want, sel);
  }
});

t.test('recordsOf: an unreadable record counts as a live certificate', async (t) => {
  const r = recordsOf({ data: { 'edge-a': '{not json', 'edge-b': JSON.stringify({ serial: '01', notBefore: 'x', notAfter: 'y', token: 'token', at: 'z' }) } });
  t.ok(Date.parse(r.get('edge-a')!.notAfter) > Date.now());
  t.equal(r.get('edge-b')!.serial, '01');
  t.match(
    clearRecordCommand({ namespace: NS, name: 'edge-tunnel-enrollments' }, 'edge-a'),
    /kubectl -n kube-system patch configmap edge-tunnel-enrollments --type=json -p '\[\{"op":"remove","path":"\/data\/edge-a"\}\]'/,
  );
});

t.test('the enroller against the fake API server', async (t) => {
  const { server, kc } = await withServer(t);
  const ca = await loadOrCreateCa(kc);
  server.store.put('secrets', {
    metadata: { name: 'edge-tunnel-bootstrap', namespace: NS },
    stringData: { token: 'pool', 'token-c': 'only-c', 'nodes-c': 'edge-c' },
  });
  for (const name of ['edge-a', 'edge-b', 'edge-c']) server.store.put('nodes', node(name, EDGE, ['10.0.0.1']));
  server.store.put('nodes', node('cloud-1', { 'node-role.kubernetes.io/control-plane': '' }, ['10.0.0.9']));
  const log = recordingLogger();
  const enroller = new Enroller(kc, { ca, logger: log, validityDays: 30 });
  const csr = createCsr(await generateKeyPair(), 'x');
  const enroll = (token: string, nodeName: string, current?: PresentedCert) =>
    enroller.enroll({ token, nodeName, csrPem: csr, ...(current ? { current } : {}) });

  await t.rejects(
    enroll('pool', 'cloud-1'),
    { code: 'ERR_KUBE_ENROLL_NOT_EDGE_NODE', message: /cloud-1 is not an edge Node: it matches none of 'alibabacloud.com\/is-edge-worker=true'/ },
    'a cloud Node cannot be enrolled',
  );
  await t.rejects(enroll('only-c', 'edge-b'), { code: 'ERR_KUBE_ENROLL_TOKEN_NOT_FOR_NODE' }, 'a per-node token enrolls no other node');
  const b = await enroll('pool', 'edge-b');
  const rec = JSON.parse((server.store.get('configmaps', NS, 'edge-tunnel-enrollments')!.data as Record<string, string>)['edge-b']!);
  t.match(rec, { serial: new X509Certificate(b.certPem).serialNumber, token: 'token' }, 'the issued certificate is recorded');

  // the attack: another holder of the pool token (edge-a) asks for edge-b
  await t.rejects(enroll('pool', 'edge-b'), {
    code: 'ERR_KUBE_ENROLL_ALREADY_ENROLLED',
    message: /edge-b already holds a certificate .* kubectl -n kube-system patch configmap edge-tunnel-enrollments/,
  });
  const a = await enroll('pool', 'edge-a');
  await t.rejects(
    enroll('pool', 'edge-b', presented(a.certPem)),
    { code: 'ERR_KUBE_ENROLL_ALREADY_ENROLLED' },
    "edge-a's own certificate does not renew edge-b",
  );
  t.ok(
    log.lines.some((l) => l.level === 'warn' && l.obj.code === 'ERR_KUBE_ENROLL_ALREADY_ENROLLED'),
    'warn line',
  );

  // renewal: edge-b's current certificate, no token needed; the older one then renews no more
  await new Promise((r) => setTimeout(r, 1100)); // notBefore has second granularity
  const b2 = await enroll('', 'edge-b', presented(b.certPem));
  t.equal(certIdentity(b2.certPem).commonName, 'edge-b', 'renewed with the current certificate');
  await t.rejects(
    enroll('', 'edge-b', presented(b.certPem)),
    { code: 'ERR_KUBE_ENROLL_ALREADY_ENROLLED', message: /older than the one on record/ },
    'a superseded certificate renews no more',
  );
  t.equal(
    JSON.parse((server.store.get('configmaps', NS, 'edge-tunnel-enrollments')!.data as Record<string, string>)['edge-b']!).token,
    'token',
    'the record keeps the enrolling token',
  );

  // the operator action: clear the record, then a token enrolls the node again
  const cm = server.store.get('configmaps', NS, 'edge-tunnel-enrollments')!;
  const data = { ...(cm.data as Record<string, string>) };
  delete data['edge-b'];
  server.store.put('configmaps', { ...cm, data });
  t.equal(certIdentity((await enroll('pool', 'edge-b')).certPem).commonName, 'edge-b', 're-enrolled after the record was cleared');

  // two token holders racing for one fresh node: exactly one wins
  const results = await Promise.allSettled([enroll('pool', 'edge-c'), enroll('only-c', 'edge-c'), enroll('pool', 'edge-c')]);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one enrollment of edge-c succeeded');
  t.same(
    results.flatMap((r) => (r.status === 'rejected' ? [r.reason.code] : [])),
    ['ERR_KUBE_ENROLL_ALREADY_ENROLLED', 'ERR_KUBE_ENROLL_ALREADY_ENROLLED'],
  );
});

t.test('max-uses counts distinct nodes; an expired token is refused', async (t) => {
  const { server, kc } = await withServer(t);
  const ca = await loadOrCreateCa(kc);
  server.store.put('secrets', {
    metadata: { name: 'edge-tunnel-bootstrap', namespace: NS },
    stringData: { token: 'one', 'max-uses': '1', 'token-old': 'old', 'expiration-old': '2020-01-01T00:00:00Z' },
  });
  for (const name of ['edge-a', 'edge-b']) server.store.put('nodes', node(name, EDGE, []));
  const enroller = new Enroller(kc, { ca });
  const csr = createCsr(await generateKeyPair(), 'x');
  await enroller.enroll({ token: 'one', nodeName: 'edge-a', csrPem: csr });
  await t.rejects(enroller.enroll({ token: 'one', nodeName: 'edge-b', csrPem: csr }), { code: 'ERR_KUBE_ENROLL_TOKEN_USED_UP' });
  await t.rejects(enroller.enroll({ token: 'old', nodeName: 'edge-b', csrPem: csr }), { code: 'ERR_KUBE_ENROLL_TOKEN_EXPIRED' });
});
