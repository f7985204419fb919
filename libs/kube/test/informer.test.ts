// ResilientInformer against the fake API server with the real client: list then watch, dropped
// watches, 410 Gone and relist, stop(), list failures with backoff, throwing listeners.
import t from 'tap';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { ResilientInformer } from '../src/informer.js';
import { FAST_BACKOFF, recordingLogger, sleep, waitFor, withServer } from './fixtures/harness.js';

t.test('informer', async (t) => {
  function configMapInformer(kc: KubeConfig, logger = recordingLogger()): ResilientInformer<V1ConfigMap> {
    const core = kc.makeApiClient(CoreV1Api);
    return new ResilientInformer<V1ConfigMap>(kc, {
      path: '/api/v1/namespaces/default/configmaps',
      list: () => core.listNamespacedConfigMap({ namespace: 'default' }),
      logger,
      backoff: FAST_BACKOFF,
    });
  }

  const cm = (name: string, v: string) => ({ metadata: { name, namespace: 'default' }, data: { v } });

  t.test('lists, then follows adds, updates and deletes', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('configmaps', cm('a', '1'));
    const inf = configMapInformer(kc);
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name} ${o.data?.v}`));
    inf.on('update', (o, old) => seen.push(`update ${o.metadata?.name} ${old.data?.v}->${o.data?.v}`));
    inf.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    inf.start();
    t.teardown(() => inf.stop());
    await inf.whenSynced();
    t.ok(inf.synced);
    server.store.put('configmaps', cm('b', '1'));
    server.store.put('configmaps', cm('a', '2'));
    server.store.delete('configmaps', 'default', 'b');
    await waitFor(() => seen.length === 4, 'four events');
    t.same(seen, ['add a 1', 'add b 1', 'update a 1->2', 'delete b']);
    t.same(
      inf.list().map((o) => o.metadata?.name),
      ['a'],
    );
    t.equal(inf.get('a', 'default')?.data?.v, '2');
    t.equal(inf.restarts, 0);
  });

  t.test('recovers after the server drops every watch', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const inf = configMapInformer(kc, log).start();
    t.teardown(() => inf.stop());
    await inf.whenSynced();
    await waitFor(() => server.requests.some((r) => r.query.watch === 'true'), 'watch open');
    server.dropWatches();
    await waitFor(() => inf.restarts > 0, 'a restart');
    server.store.put('configmaps', cm('after-drop', 'x'));
    await waitFor(() => inf.get('after-drop', 'default') !== undefined, 'change after the drop');
    t.ok(inf.restarts > 0, `restarts ${inf.restarts}`);
  });

  t.test('relists after 410 Gone and reports what changed meanwhile', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('configmaps', cm('keep', '1'));
    server.store.put('configmaps', cm('gone', '1'));
    const inf = configMapInformer(kc);
    const deleted: string[] = [];
    inf.on('delete', (o) => deleted.push(o.metadata!.name!));
    inf.start();
    t.teardown(() => inf.stop());
    await inf.whenSynced();
    const lists = () => server.requests.filter((r) => r.method === 'GET' && r.query.watch !== 'true' && r.path.endsWith('/configmaps')).length;
    t.equal(lists(), 1);
    // Stop the live watch from seeing the next changes: drop it, change things, forget the history.
    server.dropWatches();
    await new Promise((r) => setImmediate(r));
    server.store.delete('configmaps', 'default', 'gone');
    server.store.put('configmaps', cm('new', '1'));
    server.compact();
    await waitFor(() => inf.get('new', 'default') !== undefined, 'relisted state');
    t.same(deleted, ['gone']);
    t.ok(inf.restarts > 0);
    // Either the resumed watch got 410 and relisted, or it reconnected before the compaction.
    t.ok(lists() >= 1);
    server.store.put('configmaps', cm('later', '1'));
    await waitFor(() => inf.get('later', 'default') !== undefined, 'a later change');
  });

  t.test('a watch from a compacted version gets 410 and the informer relists', async (t) => {
    const { server, kc } = await withServer(t);
    const inf = configMapInformer(kc);
    let errors = 0;
    inf.on('error', () => errors++);
    inf.start();
    t.teardown(() => inf.stop());
    await inf.whenSynced();
    await waitFor(() => server.requests.some((r) => r.query.watch === 'true'), 'watch open');
    // Changes the watch delivers advance the informer's resourceVersion; then history is forgotten and
    // the watch dropped: the resumed watch asks for an old version and must relist.
    server.store.put('configmaps', cm('x', '1'));
    await waitFor(() => inf.get('x', 'default') !== undefined, 'x');
    server.store.put('namespaces', { metadata: { name: 'bump' } });
    server.compact();
    server.dropWatches();
    await waitFor(
      () => inf.restarts >= 1 && server.requests.filter((r) => r.query.watch !== 'true' && r.path.endsWith('/configmaps')).length >= 2,
      'relist',
      5000,
    );
    t.ok(errors >= 1, 'the 410 was reported as an error event');
    server.store.put('configmaps', cm('y', '1'));
    await waitFor(() => inf.get('y', 'default') !== undefined, 'y after relist');
  });

  t.test('stop() ends the watch without a restart or an error event', async (t) => {
    const { server, kc } = await withServer(t);
    const inf = configMapInformer(kc);
    let errors = 0;
    inf.on('error', () => errors++);
    inf.start();
    await inf.whenSynced();
    await waitFor(() => server.requests.some((r) => r.query.watch === 'true'), 'watch open');
    const before = server.requests.length;
    await inf.stop();
    await sleep(200);
    t.equal(errors, 0);
    t.equal(inf.restarts, 0);
    t.equal(server.requests.length, before, 'no new request after stop');
  });

  t.test('list failures back off and never throw; the informer syncs once the server is back', async (t) => {
    const { server, kc } = await withServer(t);
    const core = kc.makeApiClient(CoreV1Api);
    let failNext = 2;
    const log = recordingLogger();
    const inf = new ResilientInformer<V1ConfigMap>(kc, {
      path: '/api/v1/namespaces/default/configmaps',
      list: () => (failNext-- > 0 ? Promise.reject(new Error('boom')) : core.listNamespacedConfigMap({ namespace: 'default' })),
      logger: log,
      backoff: FAST_BACKOFF,
    }).start();
    t.teardown(() => inf.stop());
    await inf.whenSynced();
    t.equal(inf.restarts, 2);
    t.equal(log.lines.filter((l) => l.level === 'warn').length, 2);
    t.match(inf.lastError, /boom/);
    server.store.put('configmaps', cm('z', '1'));
    await waitFor(() => inf.get('z', 'default') !== undefined, 'z');
  });

  t.test('a throwing listener does not break the informer', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const inf = configMapInformer(kc, log);
    inf.on('add', () => {
      throw new Error('listener bug');
    });
    inf.start();
    t.teardown(() => inf.stop());
    await inf.whenSynced();
    server.store.put('configmaps', cm('q', '1'));
    await waitFor(() => inf.get('q', 'default') !== undefined, 'q');
    t.ok(log.lines.some((l) => l.level === 'error' && l.msg === 'informer listener threw'));
  });
});
