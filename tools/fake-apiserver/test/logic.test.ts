// The pure logic (store, selectors, patch) in one file: tap spends ~5 s starting each test
// file on this machine, and the suite must stay under a minute.
import t from 'tap';
import {
  applyPatch,
  ErrorCode,
  jsonPatch,
  mergePatch,
  ObjectStore,
  parseFieldSelector,
  parseLabelSelector,
  PatchType,
  StatusError,
  type KubeObject,
  type StoreEvent,
} from '../src/index.js';

// ---- store.ts ----

t.test('resourceVersion grows with every change and history replays them', async (t) => {
  const store = new ObjectStore();
  const seen: StoreEvent[] = [];
  store.subscribe((e) => seen.push(e));
  const a = store.put('configmaps', { metadata: { name: 'a' }, data: { x: '1' } });
  t.match(a, { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'a', namespace: 'default', resourceVersion: '1', generation: 1 } });
  t.match(a.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const a2 = store.put('configmaps', { metadata: { name: 'a', labels: { l: '1' } }, data: { x: '2' } });
  t.equal(a2.metadata.uid, a.metadata.uid, 'uid kept');
  t.equal(a2.metadata.creationTimestamp, a.metadata.creationTimestamp);
  t.equal(a2.metadata.generation, 2, 'data change bumps generation');
  t.equal(store.put('configmaps', { ...a2, metadata: { ...a2.metadata, labels: {} } }).metadata.generation, 2, 'metadata change does not');
  const gone = store.delete('configmaps', 'default', 'a');
  t.equal(gone?.metadata.resourceVersion, '4', 'DELETED carries the deletion resourceVersion');
  t.equal(store.delete('configmaps', 'default', 'a'), undefined);
  t.same(
    seen.map((e) => [e.type, e.resourceVersion]),
    [
      ['ADDED', 1],
      ['MODIFIED', 2],
      ['MODIFIED', 3],
      ['DELETED', 4],
    ],
  );
  t.same(
    store.eventsSince(2)?.map((e) => e.resourceVersion),
    [3, 4],
  );
  store.compact();
  t.equal(store.eventsSince(3), undefined, 'older than the compaction: expired');
  t.same(store.eventsSince(4), [], 'the newest version is still resumable');
});

t.test('bounded history expires the oldest versions', async (t) => {
  const store = new ObjectStore(3);
  for (let i = 0; i < 5; i++) store.put('nodes', { metadata: { name: `n${i}`, namespace: 'ignored' } });
  t.equal(store.get('nodes', undefined, 'n0')?.metadata.namespace, undefined, 'cluster-scoped objects have no namespace');
  t.equal(store.eventsSince(1), undefined);
  t.same(
    store.eventsSince(2)?.map((e) => e.resourceVersion),
    [3, 4, 5],
  );
});

t.test('list, get, copies and misuse', async (t) => {
  const store = new ObjectStore();
  store.put('pods', { metadata: { name: 'b', namespace: 'x' } });
  store.put('pods', { metadata: { name: 'a', namespace: 'y' } });
  store.put('pods', { metadata: { name: 'a', namespace: 'x' } });
  t.same(
    store.list('pods').map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
    ['x/a', 'x/b', 'y/a'],
  );
  t.same(
    store.list('pods', 'y').map((p) => p.metadata.name),
    ['a'],
  );
  const copy = store.get('pods', 'x', 'a')!;
  copy.metadata.name = 'changed';
  t.equal(store.get('pods', 'x', 'a')?.metadata.name, 'a', 'get returns a copy');
  t.throws(() => store.put('widgets', { metadata: { name: 'w' } }), { code: ErrorCode.UnknownResource });
  t.throws(() => store.put('pods', { metadata: {} }), { code: ErrorCode.InvalidObject });
  const secret = store.put('secrets', { metadata: { name: 's' }, stringData: { k: 'v' } });
  t.same(secret.data, { k: 'dg==' }, 'stringData folded into data');
  t.equal(secret.stringData, undefined);
});

// ---- selectors.ts ----

const obj = (labels: Record<string, string>, extra: object = {}): KubeObject => ({ metadata: { name: 'n1', namespace: 'ns1', labels }, ...extra });

t.test('label selectors', async (t) => {
  const cases: Array<[string, Record<string, string>, boolean]> = [
    ['', {}, true],
    ['a=1', { a: '1' }, true],
    ['a=1', { a: '2' }, false],
    ['a==1', { a: '1' }, true],
    ['a!=1', { a: '2' }, true],
    ['a!=1', {}, true],
    ['a!=1', { a: '1' }, false],
    ['a in (1, 2)', { a: '2' }, true],
    ['a in (1,2)', { a: '3' }, false],
    ['a in (1,2)', {}, false],
    ['a notin (1)', { a: '2' }, true],
    ['a notin (1)', {}, true],
    ['a notin (1)', { a: '1' }, false],
    ['a', { a: '' }, true],
    ['a', { b: '1' }, false],
    ['!a', { b: '1' }, true],
    ['!a', { a: '1' }, false],
    ['a=1,b in (x,y),!c', { a: '1', b: 'y' }, true],
    ['a=1,b in (x,y),!c', { a: '1', b: 'y', c: '' }, false],
    ['edge-tunnel.io/edge=true', { 'edge-tunnel.io/edge': 'true' }, true],
    ['n>3', { n: '4' }, true],
    ['n<3', { n: '4' }, false],
  ];
  for (const [selector, labels, expected] of cases) {
    t.equal(parseLabelSelector(selector)(obj(labels)), expected, `${JSON.stringify(selector)} on ${JSON.stringify(labels)}`);
  }
});

t.test('bad label selectors are 400 BadRequest', async (t) => {
  for (const bad of ['a in 1', '=x', 'a b']) {
    t.throws(() => parseLabelSelector(bad), { name: 'StatusError', reason: 'BadRequest', httpCode: 400 }, bad);
  }
  t.ok(new StatusError('BadRequest', 'x') instanceof Error);
});

t.test('field selectors', async (t) => {
  const pod = obj({}, { spec: { nodeName: 'edge-1' }, involvedObject: { kind: 'Node' } });
  const cases: Array<[string, boolean]> = [
    ['metadata.name=n1', true],
    ['metadata.name==n2', false],
    ['metadata.name!=n2', true],
    ['metadata.namespace=ns1,spec.nodeName=edge-1', true],
    ['spec.nodeName=', false],
    ['spec.missing=', true],
    ['involvedObject.kind=Node', true],
  ];
  for (const [selector, expected] of cases) t.equal(parseFieldSelector(selector)(pod), expected, selector);
  t.throws(() => parseFieldSelector('metadata.name'), { name: 'StatusError', reason: 'BadRequest' });
});

// ---- patch.ts ----

t.test('merge patch follows RFC 7386', async (t) => {
  // Examples from RFC 7386 appendix A.
  const cases: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) t.same(mergePatch(target, patch), expected, JSON.stringify(patch));
});

t.test('json patch operations', async (t) => {
  const doc = { metadata: { labels: { a: '1' } }, list: [1, 2] };
  t.same(
    jsonPatch(doc, [
      { op: 'add', path: '/metadata/labels/b~1c', value: '2' },
      { op: 'replace', path: '/metadata/labels/a', value: 'x' },
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'add', path: '/list/0', value: 0 },
      { op: 'remove', path: '/list/1' },
      { op: 'copy', from: '/list/0', path: '/first' },
      { op: 'move', from: '/first', path: '/moved' },
      { op: 'test', path: '/moved', value: 0 },
    ]),
    { metadata: { labels: { a: 'x', 'b/c': '2' } }, list: [0, 2, 3], moved: 0 },
  );
  t.same(doc, { metadata: { labels: { a: '1' } }, list: [1, 2] }, 'input untouched');
  t.throws(() => jsonPatch(doc, [{ op: 'test', path: '/list/0', value: 9 }]), { name: 'StatusError', reason: 'Invalid', httpCode: 422 });
  t.throws(() => jsonPatch(doc, [{ op: 'replace', path: '/nope', value: 1 }]), { name: 'StatusError', reason: 'Invalid' });
  t.throws(() => jsonPatch(doc, [{ op: 'remove', path: '/list/5' }]), { name: 'StatusError', reason: 'Invalid' });
  t.throws(() => jsonPatch(doc, { op: 'add' }), { name: 'StatusError', reason: 'BadRequest' });
  t.throws(() => jsonPatch(doc, [{ op: 'frobnicate', path: '/a' }]), { name: 'StatusError', reason: 'BadRequest' });
});

t.test('content types', async (t) => {
  t.same(applyPatch({ a: [1, 2] }, { a: [3] }, `${PatchType.StrategicMerge}; charset=utf-8`), { a: [3] }, 'strategic merge is a plain merge');
  t.same(applyPatch({ a: 1 }, { b: 2 }, PatchType.Merge), { a: 1, b: 2 });
  t.throws(() => applyPatch({}, {}, 'application/apply-patch+yaml'), { name: 'StatusError', reason: 'UnsupportedMediaType', httpCode: 415 });
});
