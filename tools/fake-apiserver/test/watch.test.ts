import { CoreV1Api, ListWatch, makeInformer, Watch, type Informer, type KubernetesObject, type V1ConfigMap, type V1Node } from '@kubernetes/client-node';
import t from 'tap';
import type { FakeApiServer } from '../src/index.js';
import { withClient } from './fixtures/client.js';
import { waitFor, withServer } from './fixtures/harness.js';

const EDGE = 'edge-tunnel.io/edge=true';

function node(name: string, edge: boolean, extra: Record<string, string> = {}): { metadata: { name: string; labels: Record<string, string> } } {
  return { metadata: { name, labels: { 'edge-tunnel.io/edge': String(edge), ...extra } } };
}

interface Seen {
  log: string[];
  errors: unknown[];
}

/** Record informer callbacks as `add:name`, `update:name`, `delete:name`. */
function record<T extends KubernetesObject>(informer: Informer<T>): Seen {
  const seen: Seen = { log: [], errors: [] };
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, (obj) => seen.log.push(`${verb}:${obj.metadata?.name}`));
  informer.on('error', (err) => seen.errors.push(err));
  return seen;
}

/** Start a raw client-node Watch; resolves with its event log and a promise of its end. */
async function rawWatch(kc: ConstructorParameters<typeof Watch>[0], path: string, query: Record<string, string | number | boolean>) {
  const events: Array<{ type: string; object: { kind?: string; code?: number; reason?: string; metadata?: { name?: string; resourceVersion?: string } } }> = [];
  let finish!: (err: unknown) => void;
  const done = new Promise<unknown>((resolve) => (finish = resolve));
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type, object) => events.push({ type, object }),
    (err) => finish(err),
  );
  return { events, done, controller };
}

function rv(server: FakeApiServer): string {
  return server.store.resourceVersion();
}

t.test('a node informer with a label selector sees adds, updates, deletes and selector transitions', async (t) => {
  const { server, kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  server.store.put('nodes', node('edge-0', true));
  const informer = makeInformer<V1Node>(kc, '/api/v1/nodes', () => core.listNode({ labelSelector: EDGE }), EDGE);
  const seen = record(informer);
  await informer.start();
  t.same(seen.log, ['add:edge-0'], 'initial list');
  server.store.put('nodes', node('edge-1', true));
  server.store.put('nodes', node('cloud-1', false));
  await core.patchNode({ name: 'edge-1', body: [{ op: 'add', path: '/metadata/annotations', value: { a: '1' } }] });
  server.store.put('nodes', node('cloud-1', true)); // starts matching: ADDED
  server.store.put('nodes', node('edge-0', false)); // stops matching: DELETED
  server.store.delete('nodes', undefined, 'edge-1');
  await waitFor(() => seen.log.length >= 6, 'six informer events');
  t.same(seen.log, ['add:edge-0', 'add:edge-1', 'update:edge-1', 'add:cloud-1', 'delete:edge-0', 'delete:edge-1']);
  t.same(
    informer.list().map((n) => n.metadata?.name),
    ['cloud-1'],
    'cache holds what matches',
  );
  const watchRequest = server.requests.find((r) => r.path === '/api/v1/nodes' && r.query.watch === 'true');
  t.match(watchRequest?.query, { labelSelector: EDGE, resourceVersion: /^\d+$/ });
  await informer.stop();
  await waitFor(() => seen.errors.length === 1, 'the AbortError of stop()');
  t.match(seen.errors, [{ name: 'AbortError' }], 'stop() surfaces an AbortError, as toolchain.md says');
});

t.test('a field-selector informer follows one ConfigMap', async (t) => {
  const { server, kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  const selector = 'metadata.name=hosts';
  const path = '/api/v1/namespaces/kube-system/configmaps';
  const informer = new ListWatch<V1ConfigMap>(
    path,
    new Watch(kc),
    () => core.listNamespacedConfigMap({ namespace: 'kube-system', fieldSelector: selector }),
    false,
    undefined,
    selector,
  );
  const seen = record(informer);
  await informer.start();
  server.store.put('configmaps', { metadata: { name: 'other', namespace: 'kube-system' } });
  server.store.put('configmaps', { metadata: { name: 'hosts', namespace: 'default' } });
  server.store.put('configmaps', { metadata: { name: 'hosts', namespace: 'kube-system' }, data: { 'edge-1': '10.0.0.1' } });
  server.store.put('configmaps', { metadata: { name: 'hosts', namespace: 'kube-system' }, data: { 'edge-1': '10.0.0.2' } });
  await waitFor(() => seen.log.length >= 2, 'two events');
  t.same(seen.log, ['add:hosts', 'update:hosts']);
  t.same(informer.get('hosts', 'kube-system')?.data, { 'edge-1': '10.0.0.2' });
  await informer.stop();
});

t.test('watch from a resourceVersion replays what was missed', async (t) => {
  const { server, kc } = await withClient(t);
  server.store.put('configmaps', { metadata: { name: 'a' } });
  const from = rv(server);
  server.store.put('configmaps', { metadata: { name: 'b' } });
  server.store.put('configmaps', { metadata: { name: 'a' }, data: { x: '1' } });
  server.store.delete('configmaps', 'default', 'b');
  const w = await rawWatch(kc, '/api/v1/namespaces/default/configmaps', { resourceVersion: from });
  await waitFor(() => w.events.length >= 3, 'three replayed events');
  t.same(
    w.events.map((e) => `${e.type}:${e.object.metadata?.name}`),
    ['ADDED:b', 'MODIFIED:a', 'DELETED:b'],
  );
  t.same(
    w.events.map((e) => Number(e.object.metadata?.resourceVersion)),
    [Number(from) + 1, Number(from) + 2, Number(from) + 3],
  );
  server.store.put('configmaps', { metadata: { name: 'c' } });
  await waitFor(() => w.events.length >= 4, 'a live event after the replay');
  t.equal(w.events[3]?.type, 'ADDED');
  w.controller.abort();
});

t.test('watch without a resourceVersion starts with the current state; headers arrive before any event', async (t) => {
  const server = await withServer(t);
  const res = await fetch(`${server.url}/api/v1/namespaces?watch=1&resourceVersion=${server.store.resourceVersion()}`);
  t.equal(res.status, 200, 'headers flushed with nothing to send yet');
  t.equal(res.headers.get('content-type'), 'application/json');
  t.equal(res.headers.get('transfer-encoding'), 'chunked');
  await res.body?.cancel();
  const initial = await fetch(`${server.url}/api/v1/watch/namespaces?timeoutSeconds=1`);
  const lines = (await initial.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
  t.same(
    lines.map((l) => `${l.type}:${l.object.metadata.name}`),
    ['ADDED:default', 'ADDED:kube-node-lease', 'ADDED:kube-public', 'ADDED:kube-system'],
    'legacy /watch/ path, timeoutSeconds ends it',
  );
});

t.test('after compact() an old resourceVersion gets a 410 Expired ERROR event, then the watch ends', async (t) => {
  const { server, kc } = await withClient(t);
  const old = rv(server);
  server.store.put('nodes', node('edge-1', true));
  server.compact();
  const w = await rawWatch(kc, '/api/v1/nodes', { resourceVersion: old });
  t.equal(await w.done, null, 'the stream ends cleanly after the ERROR');
  t.match(w.events, [
    { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: /too old resource version/ } },
  ]);
  const current = await rawWatch(kc, '/api/v1/nodes', { resourceVersion: rv(server) });
  server.store.put('nodes', node('edge-2', true));
  await waitFor(() => current.events.length === 1, 'the newest version still resumes');
  current.controller.abort();
});

t.test('dropWatches() errors informers; a restarted informer resumes, or relists after a compaction', async (t) => {
  const { server, kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Node>(kc, '/api/v1/nodes', () => core.listNode());
  const seen = record(informer);
  await informer.start();
  server.store.put('nodes', node('edge-1', true));
  await waitFor(() => seen.log.length === 1, 'first add');
  server.dropWatches();
  await waitFor(() => seen.errors.length === 1, 'informer error after the drop');
  server.store.put('nodes', node('edge-2', true)); // happens while nobody watches
  await informer.start(); // informers do not restart themselves
  await waitFor(() => seen.log.includes('add:edge-2'), 'missed add replayed on resume');
  const lists = () => server.requests.filter((r) => r.path === '/api/v1/nodes' && r.query.watch === undefined).length;
  t.equal(lists(), 1, 'resumed by watch, no relist');

  server.dropWatches();
  await waitFor(() => seen.errors.length === 2, 'second error');
  server.store.delete('nodes', undefined, 'edge-1');
  server.compact();
  await informer.start();
  await waitFor(() => seen.log.includes('delete:edge-1'), 'relist after 410 finds the deletion');
  t.equal(lists(), 2, 'the 410 made the informer list again');
  await informer.stop();
});

t.test('bookmarks arrive every bookmarkIntervalMs and carry only a resourceVersion', async (t) => {
  const { server, kc } = await withClient(t, { bookmarkIntervalMs: 50 });
  const w = await rawWatch(kc, '/api/v1/nodes', { allowWatchBookmarks: true, resourceVersion: rv(server) });
  const plain = await rawWatch(kc, '/api/v1/nodes', { resourceVersion: rv(server) });
  server.store.put('nodes', node('edge-1', true));
  await waitFor(() => w.events.filter((e) => e.type === 'BOOKMARK').length >= 3, 'three bookmarks');
  const bookmark = w.events.find((e) => e.type === 'BOOKMARK')!;
  t.same(bookmark.object, { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: server.store.resourceVersion() } });
  t.same(
    plain.events.map((e) => e.type),
    ['ADDED'],
    'no bookmarks unless asked for',
  );
  w.controller.abort();
  plain.controller.abort();
});
