// Against the fake API server with the real client: informer, edge-nodes, port-configmap + events,
// client, pod-locator, ca-secret + enroll. Leader election and the DNS writer are in leader.test.ts.
// Few files on purpose: each test process pays client-node's load time (~1000 modules) under tap's loaders.
import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeApiServer, KubeObject } from '@edge-tunnel/fake-apiserver';
import { certIdentity, createCsr, generateKeyPair } from '@edge-tunnel/pki';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { caFromSecret, loadOrCreateCa } from '../src/ca-secret.js';
import { SERVICE_ACCOUNT_TOKEN, createClients, loadKubeConfig } from '../src/client.js';
import { DEFAULT_EDGE_SELECTORS, internalIps, watchEdgeNodes } from '../src/edge-nodes.js';
import type { EdgeNode } from '../src/edge-nodes.js';
import { Enroller } from '../src/enroll.js';
import { EventRecorder } from '../src/events.js';
import { ResilientInformer } from '../src/informer.js';
import { PodLocator } from '../src/pod-locator.js';
import { INVALID_PORT_CONFIG_REASON, watchPortConfigMap } from '../src/port-configmap.js';
import type { PortConfigState } from '../src/port-configmap.js';
import { EDGE, FAST_BACKOFF, YURT, node, recordingLogger, sleep, waitFor, withServer } from './fixtures/harness.js';

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
    t.same(inf.list().map((o) => o.metadata?.name), ['a']);
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
    await waitFor(() => inf.restarts >= 1 && server.requests.filter((r) => r.query.watch !== 'true' && r.path.endsWith('/configmaps')).length >= 2, 'relist', 5000);
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

t.test('edge-nodes', async (t) => {
  const names = (nodes: EdgeNode[]) => nodes.map((n) => n.name);

  t.test('internalIps keeps InternalIP addresses only, in order, without duplicates', async (t) => {
    t.same(
      internalIps({
        status: {
          addresses: [
            { type: 'ExternalIP', address: '1.2.3.4' },
            { type: 'InternalIP', address: '10.0.0.2' },
            { type: 'Hostname', address: 'n' },
            { type: 'InternalIP', address: 'fd00::2' },
            { type: 'InternalIP', address: '10.0.0.2' },
          ],
        },
      }),
      ['10.0.0.2', 'fd00::2'],
    );
    t.same(internalIps({}), []);
    t.same(DEFAULT_EDGE_SELECTORS, ['alibabacloud.com/is-edge-worker=true', 'openyurt.io/is-edge-worker=true']);
  });

  t.test('nodes added, re-addressed, relabelled and removed change the set live', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('nodes', node('edge-1', EDGE, ['10.0.0.1']));
    server.store.put('nodes', node('cloud-1', { 'node-role.kubernetes.io/control-plane': '' }, ['10.0.9.1']));
    const w = watchEdgeNodes(kc, { backoff: FAST_BACKOFF });
    t.teardown(() => w.stop());
    const changes: EdgeNode[][] = [];
    w.on('change', (nodes) => changes.push(nodes));
    await w.whenSynced();
    t.ok(w.synced);
    t.same(w.nodes(), [{ name: 'edge-1', ips: ['10.0.0.1'] }], 'only the labelled node, InternalIPs only');

    server.store.put('nodes', node('edge-2', YURT, ['10.0.0.2', 'fd00::2']));
    await waitFor(() => w.nodes().length === 2, 'edge-2 added');
    t.same(changes.at(-1), [{ name: 'edge-1', ips: ['10.0.0.1'] }, { name: 'edge-2', ips: ['10.0.0.2', 'fd00::2'] }]);

    server.store.put('nodes', node('edge-1', EDGE, ['10.0.0.11']));
    await waitFor(() => w.nodes()[0]?.ips[0] === '10.0.0.11', 'edge-1 re-addressed');

    // Relabelled so that no selector matches: gone.
    server.store.put('nodes', node('edge-2', { 'openyurt.io/is-edge-worker': 'false' }, ['10.0.0.2']));
    await waitFor(() => w.nodes().length === 1, 'edge-2 relabelled away');
    t.same(names(w.nodes()), ['edge-1']);

    // A cloud node relabelled as an edge node appears.
    server.store.put('nodes', node('cloud-1', EDGE, ['10.0.9.1']));
    await waitFor(() => w.nodes().length === 2, 'cloud-1 now an edge node');

    server.store.delete('nodes', undefined, 'edge-1');
    await waitFor(() => names(w.nodes()).join() === 'cloud-1', 'edge-1 deleted');
    t.same(changes.at(-1), [{ name: 'cloud-1', ips: ['10.0.9.1'] }]);
  });

  t.test('a node matching both selectors is one node and stays while either matches', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('nodes', node('both', { ...EDGE, ...YURT }, ['10.0.0.3']));
    const w = watchEdgeNodes(kc, { backoff: FAST_BACKOFF });
    t.teardown(() => w.stop());
    let changes = 0;
    w.on('change', () => changes++);
    await w.whenSynced();
    await waitFor(() => w.nodes().length === 1, 'one node');
    const before = changes;
    server.store.put('nodes', node('both', YURT, ['10.0.0.3']));
    server.store.put('nodes', node('other', YURT, ['10.0.0.4']));
    await waitFor(() => w.nodes().length === 2, 'other added');
    t.same(names(w.nodes()), ['both', 'other']);
    t.equal(changes - before, 1, `dropping one of two matching labels is not a change (${changes - before} changes)`);
    server.store.put('nodes', node('both', {}, ['10.0.0.3']));
    await waitFor(() => names(w.nodes()).join() === 'other', 'both gone when no label matches');
  });

  t.test('custom selectors, and recovery after dropped watches', async (t) => {
    const { server, kc } = await withServer(t);
    const w = watchEdgeNodes(kc, { selectors: ['tier=edge'], backoff: FAST_BACKOFF });
    t.teardown(() => w.stop());
    await w.whenSynced();
    server.store.put('nodes', node('n1', { tier: 'edge' }, ['10.1.0.1']));
    await waitFor(() => w.nodes().length === 1, 'n1');
    server.dropWatches();
    await waitFor(() => w.restarts > 0, 'restart');
    server.store.put('nodes', node('n2', { tier: 'edge' }, ['10.1.0.2']));
    server.store.put('nodes', node('n3', EDGE, ['10.1.0.3']));
    await waitFor(() => w.nodes().length === 2, 'n2 after the drop');
    t.same(names(w.nodes()), ['n1', 'n2']);
  });
});

t.test('port-configmap', async (t) => {
  const NS = 'kube-system';
  const NAME = 'edge-tunnel-server-cfg';
  const cfg = (data: Record<string, string>): KubeObject => ({ metadata: { name: NAME, namespace: NS }, data });
  const ports = (s: PortConfigState) => ({ http: [...s.config.httpPorts], https: [...s.config.httpsPorts], localhost: [...s.config.localhostPorts] });
  const warnings = (server: FakeApiServer) => server.store.list('events', NS).filter((e) => e.reason === INVALID_PORT_CONFIG_REASON);

  t.test('absent, created, edited and deleted ConfigMap apply live', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const w = watchPortConfigMap(kc, { logger: log, backoff: FAST_BACKOFF });
    t.teardown(() => w.stop());
    await w.whenSynced();
    t.same(ports(w.current()), { http: [], https: [], localhost: [] }, 'absent: built-ins only');
    t.equal(w.current().resourceVersion, undefined);
    t.equal(w.current().source, `configmap ${NS}/${NAME}`);
    const states: PortConfigState[] = [];
    w.on('change', (s) => states.push(s));

    server.store.put('configmaps', cfg({ 'dnat-ports-pair': '9051=10264', 'https-proxy-ports': '9443' }));
    await waitFor(() => w.current().config.httpPorts.has(9051), 'created');
    t.same(ports(w.current()), { http: [9051], https: [9443], localhost: [] });
    t.same(states.at(-1), w.current(), "'change' carries the new state");

    server.store.put('configmaps', cfg({ 'http-proxy-ports': '9100,9400', 'localhost-proxy-ports': '9400' }));
    await waitFor(() => w.current().config.httpPorts.has(9100), 'edited');
    t.same(ports(w.current()), { http: [9100, 9400], https: [], localhost: [9400] });

    // Another ConfigMap in the namespace is not ours.
    server.store.put('configmaps', { metadata: { name: 'other', namespace: NS }, data: { 'http-proxy-ports': '7000' } });
    server.store.delete('configmaps', NS, NAME);
    await waitFor(() => w.current().resourceVersion === undefined, 'deleted');
    t.same(ports(w.current()), { http: [], https: [], localhost: [] });
    t.ok(log.lines.some((l) => l.level === 'info' && /deleted/.test(l.msg)));
  });

  t.test('a bad entry is rejected with a log line and an Event, the good ones apply', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const events = new EventRecorder(kc, { logger: log });
    server.store.put('configmaps', cfg({ 'http-proxy-ports': '9100, abc', 'https-proxy-ports': '10250' }));
    const w = watchPortConfigMap(kc, { events, logger: log, backoff: FAST_BACKOFF });
    t.teardown(() => w.stop());
    await w.whenSynced();
    t.same(ports(w.current()), { http: [9100], https: [], localhost: [] });
    t.same(w.current().rejected.map((r) => [r.key, r.entry, r.code]), [
      ['http-proxy-ports', 'abc', 'INVALID_PORT'],
      ['https-proxy-ports', '10250', 'RESERVED_PORT'],
    ]);
    await waitFor(() => warnings(server).length === 2, 'two Events');
    const [first] = warnings(server).filter((e) => String(e.message).includes("'abc'"));
    t.ok(first, 'an Event names the bad entry');
    t.equal(first!.type, 'Warning');
    t.equal(first!.message, w.current().rejected[0]!.reason);
    t.match(first!.involvedObject, { kind: 'ConfigMap', namespace: NS, name: NAME, apiVersion: 'v1' });
    t.match(first!.source, { component: 'edge-tunnel-server' });
    t.equal(first!.count, 1);
    const warns = log.lines.filter((l) => l.level === 'warn' && l.msg === 'port config entry rejected');
    t.same(warns.map((l) => l.obj.entry), ['abc', '10250']);

    // Watch drop + compaction (relist) is not a new resourceVersion: no new log line, no new Event.
    server.dropWatches();
    server.compact();
    await waitFor(() => w.restarts > 0, 'restart');
    await sleep(300);
    t.equal(log.lines.filter((l) => l.msg === 'port config entry rejected').length, 2);
    t.equal(warnings(server).length, 2);

    // A new resourceVersion with the same bad entry reports again, aggregated into the same Event.
    server.store.put('configmaps', cfg({ 'http-proxy-ports': '9100, abc, 9200', 'https-proxy-ports': '10250' }));
    await waitFor(() => w.current().config.httpPorts.has(9200), 'edit applied');
    await waitFor(() => warnings(server).some((e) => e.count === 2), 'count bumped');
    t.equal(warnings(server).length, 2, 'no new Event objects, counts bumped');

    // Fixing the entry clears the rejection.
    server.store.put('configmaps', cfg({ 'http-proxy-ports': '9100' }));
    await waitFor(() => w.current().rejected.length === 0, 'fixed');
    t.same(ports(w.current()), { http: [9100], https: [], localhost: [] });
  });

  t.test('a repeated port and a blank entry are Events too; the port still applies', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const events = new EventRecorder(kc, { logger: log });
    server.store.put('configmaps', cfg({ 'dnat-ports-pair': '9051=10264,9051=10264', 'http-proxy-ports': '9100,' }));
    const w = watchPortConfigMap(kc, { events, logger: log, backoff: FAST_BACKOFF });
    t.teardown(() => w.stop());
    await w.whenSynced();
    t.same(ports(w.current()), { http: [9051, 9100], https: [], localhost: [] }, 'redundant entries do not block the config');
    t.same(w.current().rejected.map((r) => [r.key, r.entry, r.code]), [
      ['dnat-ports-pair', '9051=10264', 'DUPLICATE_ENTRY'],
      ['http-proxy-ports', '', 'EMPTY_ENTRY'],
    ]);
    await waitFor(() => warnings(server).length === 2, 'two Events');
    t.ok(warnings(server).some((e) => /first occurrence/.test(String(e.message))), 'the Event names the first occurrence');
    t.ok(warnings(server).some((e) => /trailing comma/.test(String(e.message))), 'the Event names the trailing comma');
  });

  t.test('EventRecorder: fields, aggregation, recreation after expiry, failures do not throw', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const rec = new EventRecorder(kc, { logger: log, host: 'node-a', component: 'test-comp' });
    const ref = { apiVersion: 'v1', kind: 'Node', name: 'edge-1', uid: 'u1' };
    const name = await rec.record(ref, 'Normal', 'AgentConnected', 'agent of edge-1 connected');
    t.ok(name?.startsWith('edge-1.'));
    const ev = server.store.get('events', 'default', name!)!;
    t.match(ev, {
      type: 'Normal',
      reason: 'AgentConnected',
      count: 1,
      source: { component: 'test-comp', host: 'node-a' },
      involvedObject: { kind: 'Node', name: 'edge-1', uid: 'u1' },
    });
    t.match(ev.firstTimestamp, /^\d{4}-\d\d-\d\dT/);

    const [a, b] = await Promise.all([
      rec.record(ref, 'Normal', 'AgentConnected', 'agent of edge-1 connected'),
      rec.record(ref, 'Normal', 'AgentConnected', 'agent of edge-1 connected'),
    ]);
    t.equal(a, name);
    t.equal(b, name);
    t.equal(server.store.get('events', 'default', name!)!.count, 3);
    t.equal(server.store.list('events', 'default').length, 1);

    const other = await rec.record(ref, 'Warning', 'AgentConnected', 'something else');
    t.not(other, name);

    server.store.delete('events', 'default', name!);
    const again = await rec.record(ref, 'Normal', 'AgentConnected', 'agent of edge-1 connected');
    t.not(again, name, 'an expired Event is created anew');
    t.equal(server.store.get('events', 'default', again!)!.count, 1);

    await server.close();
    t.equal(await rec.record(ref, 'Normal', 'X', 'y'), undefined, 'API down: undefined, no throw');
    t.ok(log.lines.some((l) => l.level === 'warn' && l.msg === 'event not recorded'));
  });
});

t.test('client', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kube-client-'));

  t.test('--kubeconfig: a working client against the API server', async (t) => {
    const { server } = await withServer(t);
    const path = join(dir, 'kubeconfig');
    server.kubeconfig(path);
    const kc = loadKubeConfig({ kubeconfig: path, inCluster: true });
    t.equal(kc.getCurrentCluster()?.server, server.url, 'the file wins over inCluster');
    const { core, coordination } = createClients(kc);
    const list = await core.listNamespace();
    t.ok(list.items.some((ns) => ns.metadata?.name === 'kube-system'));
    const leases = await coordination.listNamespacedLease({ namespace: 'kube-system' });
    t.same(leases.items, []);
  });

  t.test('bad kubeconfig paths and contents', async (t) => {
    t.throws(() => loadKubeConfig({ kubeconfig: join(dir, 'missing') }), { code: 'ERR_KUBE_CONFIG', message: /does not exist/ });
    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, ': : :\n\t- [');
    t.throws(() => loadKubeConfig({ kubeconfig: garbage }), { code: 'ERR_KUBE_CONFIG' });
    const empty = join(dir, 'empty');
    writeFileSync(empty, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    t.throws(() => loadKubeConfig({ kubeconfig: empty }), { code: 'ERR_KUBE_CONFIG', message: /no current cluster/ });
  });

  t.test('in-cluster', async (t) => {
    const saved = { ...process.env };
    t.teardown(() => {
      process.env = saved;
    });
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    t.throws(() => loadKubeConfig({ inCluster: true }), { code: 'ERR_KUBE_CONFIG', message: /KUBERNETES_SERVICE_HOST/ });
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const root = join(dir, 'sa');
    t.throws(() => loadKubeConfig({ inCluster: true, serviceAccountRoot: root }), { code: 'ERR_KUBE_CONFIG', message: /token/ });
    const tokenPath = join(root, SERVICE_ACCOUNT_TOKEN);
    mkdirSync(join(tokenPath, '..'), { recursive: true });
    writeFileSync(tokenPath, 'sa-token');
    const kc = loadKubeConfig({ inCluster: true, serviceAccountRoot: root });
    t.equal(kc.getCurrentCluster()?.server, 'https://10.96.0.1:443');
  });
});

t.test('pod-locator', async (t) => {
  const pod = (ns: string, name: string, nodeName?: string) => ({ metadata: { name, namespace: ns }, spec: { containers: [{ name: 'c' }], ...(nodeName ? { nodeName } : {}) } });
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
    server.store.put('secrets', { metadata: { name: 'edge-tunnel-ca', namespace: NS }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('nope'), 'tls.key': b64('nope') } });
    await t.rejects(loadOrCreateCa(kc), { code: 'ERR_KUBE_CA_SECRET' });
    t.equal(secretCreates(server), 0);
    const ca = await loadOrCreateCa(kc, { name: 'good' });
    t.throws(() => caFromSecret({ data: { 'tls.crt': b64(ca.certPem) } }), { code: 'ERR_KUBE_CA_SECRET' });
    t.throws(() => caFromSecret({ data: { 'tls.crt': b64('-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n'), 'tls.key': b64(ca.keyPem) } }), { code: 'ERR_KUBE_CA_SECRET' });
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
      status: { addresses: [{ type: 'InternalIP', address: '10.0.0.7' }, { type: 'ExternalIP', address: '198.51.100.7' }, { type: 'InternalIP', address: 'fd00::7' }] },
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
        await t.rejects(enroller.enroll({ token, nodeName: 'edge-1', csrPem: lyingCsr }), { name: 'KubeError', code: 'ERR_KUBE_ENROLL_BAD_TOKEN' }, JSON.stringify(token));
      }
      await t.rejects(enroller.enroll({ token: 'wrong', nodeName: 'nope', csrPem: lyingCsr }), { code: 'ERR_KUBE_ENROLL_BAD_TOKEN' }, 'the token is checked before the node');
      t.ok(log.lines.some((l) => l.level === 'warn' && l.obj.code === 'ERR_KUBE_ENROLL_BAD_TOKEN'));
    });

    await t.test('unknown node', async (t) => {
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: 'edge-404', csrPem: lyingCsr }), { code: 'ERR_KUBE_ENROLL_UNKNOWN_NODE', message: /edge-404 does not exist/ });
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: '../../etc', csrPem: lyingCsr }), { code: 'ERR_KUBE_ENROLL_UNKNOWN_NODE' });
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: '', csrPem: lyingCsr }), { code: 'ERR_KUBE_ENROLL_UNKNOWN_NODE' });
    });

    await t.test('bad CSR', async (t) => {
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: 'edge-3', csrPem: 'garbage' }), { code: 'ERR_KUBE_ENROLL_BAD_CSR' });
      await t.rejects(enroller.enroll({ token: 'tok-main', nodeName: 'edge-3', csrPem: '' }), { code: 'ERR_KUBE_ENROLL_BAD_CSR' });
    });

    await t.test('no bootstrap Secret: every token is bad, with a reason naming the Secret', async (t) => {
      const e2 = new Enroller(kc, { ca, secretName: 'missing' });
      await t.rejects(e2.enroll({ token: 'tok-main', nodeName: 'edge-1', csrPem: lyingCsr }), { code: 'ERR_KUBE_ENROLL_BAD_TOKEN', message: /kube-system\/missing does not exist/ });
    });
  });
});
