// PodLocator against the fake API server: the TTL cache, negative entries, shared lookups,
// kubelet paths, API failures, the cache bound.
import t from 'tap';
import type { FakeApiServer } from '@edge-tunnel/fake-apiserver';
import { PodLocator } from '../src/pod-locator.js';
import { withServer } from './fixtures/harness.js';

t.test('pod-locator', async (t) => {
  const pod = (ns: string, name: string, nodeName?: string) => ({
    metadata: { name, namespace: ns },
    spec: { containers: [{ name: 'c' }], ...(nodeName ? { nodeName } : {}) },
  });
  const podGets = (server: FakeApiServer, ns: string, name: string) =>
    server.requests.filter((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${ns}/pods/${name}`).length;

  t.test('finds the node and caches it for the TTL', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('pods', pod('default', 'web-1', 'edge-1'));
    let now = 1_000_000;
    const loc = new PodLocator(kc, { now: () => now });
    t.equal(await loc.locate('default', 'web-1'), 'edge-1');
    t.equal(await loc.locate('default', 'web-1'), 'edge-1');
    t.equal(podGets(server, 'default', 'web-1'), 1, 'second lookup from the cache');
    server.store.put('pods', pod('default', 'web-1', 'edge-2'));
    now += 29_000;
    t.equal(await loc.locate('default', 'web-1'), 'edge-1', 'still cached before 30 s');
    now += 2_000;
    t.equal(await loc.locate('default', 'web-1'), 'edge-2', 'refetched after 30 s');
    t.equal(podGets(server, 'default', 'web-1'), 2);
    t.equal(loc.size, 1);
  });

  t.test('missing and unscheduled pods are cached negatively for 5 s', async (t) => {
    const { server, kc } = await withServer(t);
    let now = 0;
    const loc = new PodLocator(kc, { now: () => now });
    t.equal(await loc.locate('default', 'nope'), undefined);
    t.equal(await loc.locate('default', 'nope'), undefined);
    t.equal(podGets(server, 'default', 'nope'), 1);
    server.store.put('pods', pod('default', 'nope', 'edge-3'));
    now += 4_000;
    t.equal(await loc.locate('default', 'nope'), undefined, 'negative entry still valid');
    now += 1_500;
    t.equal(await loc.locate('default', 'nope'), 'edge-3', 'refetched after 5 s');

    server.store.put('pods', pod('default', 'pending'));
    t.equal(await loc.locate('default', 'pending'), undefined, 'not scheduled yet');
    t.equal(await loc.locate('default', 'pending'), undefined);
    t.equal(podGets(server, 'default', 'pending'), 1);
  });

  t.test('concurrent lookups share one request; invalidate forgets', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('pods', pod('ns1', 'p', 'edge-9'));
    const loc = new PodLocator(kc);
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => loc.locate('ns1', 'p')));
    t.same(results, ['edge-9', 'edge-9', 'edge-9', 'edge-9', 'edge-9']);
    t.equal(podGets(server, 'ns1', 'p'), 1);
    loc.invalidate('ns1', 'p');
    await loc.locate('ns1', 'p');
    t.equal(podGets(server, 'ns1', 'p'), 2);
    loc.invalidate();
    t.equal(loc.size, 0);
  });

  t.test('locatePath parses kubelet paths', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('pods', pod('team-a', 'api-0', 'edge-5'));
    const loc = new PodLocator(kc);
    t.equal(await loc.locatePath('/exec/team-a/api-0/c?command=sh&stdin=true'), 'edge-5');
    t.equal(await loc.locatePath('/containerLogs/team-a/api-0/c'), 'edge-5');
    t.equal(await loc.locatePath('/metrics'), undefined);
    t.equal(podGets(server, 'team-a', 'api-0'), 1);
  });

  t.test('API failures throw ERR_KUBE_API and are not cached', async (t) => {
    const { server, kc } = await withServer(t);
    const loc = new PodLocator(kc, { maxEntries: 2 });
    await server.close();
    await t.rejects(loc.locate('default', 'x'), { name: 'KubeError', code: 'ERR_KUBE_API' });
    t.equal(loc.size, 0);
  });

  t.test('the cache is bounded', async (t) => {
    const { server, kc } = await withServer(t);
    const loc = new PodLocator(kc, { maxEntries: 2 });
    for (const n of ['a', 'b', 'c']) server.store.put('pods', pod('default', n, `node-${n}`));
    for (const n of ['a', 'b', 'c']) await loc.locate('default', n);
    t.equal(loc.size, 2);
    await loc.locate('default', 'a');
    t.equal(podGets(server, 'default', 'a'), 2, 'the oldest entry was dropped');
  });
});
