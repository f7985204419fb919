import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import t from 'tap';
import { withClient } from './fixtures/client.js';
import { codeOf, raw, statusOf, withServer } from './fixtures/harness.js';

const run = promisify(execFile);

t.test('configmap create, read, update, patch, delete with the real client', async (t) => {
  const { server, kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  const created = await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'hosts' }, data: { a: '1' } } });
  t.equal(created.metadata?.namespace, 'kube-system');
  t.match(created.metadata?.uid, /^[0-9a-f-]{36}$/);
  t.equal(created.metadata?.generation, 1);
  t.ok(created.metadata?.creationTimestamp instanceof Date, 'creationTimestamp parses as a date');

  const dup = await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'hosts' } } }).catch((e: unknown) => e);
  t.equal(codeOf(dup), 409);
  t.match(statusOf(dup), {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    reason: 'AlreadyExists',
    code: 409,
    details: { name: 'hosts', kind: 'configmaps' },
  });

  const read = await core.readNamespacedConfigMap({ name: 'hosts', namespace: 'kube-system' });
  t.same(read.data, { a: '1' });
  const updated = await core.replaceNamespacedConfigMap({ name: 'hosts', namespace: 'kube-system', body: { ...read, data: { a: '2' } } });
  t.ok(Number(updated.metadata?.resourceVersion) > Number(read.metadata?.resourceVersion), 'resourceVersion grows');
  t.equal(updated.metadata?.generation, 2);

  const stale = await core
    .replaceNamespacedConfigMap({ name: 'hosts', namespace: 'kube-system', body: { ...read, data: { a: '3' } } })
    .catch((e: unknown) => e);
  t.equal(codeOf(stale), 409, 'stale resourceVersion: Conflict');
  t.match(statusOf(stale), { reason: 'Conflict', message: /the object has been modified/ });

  const merged = await core.patchNamespacedConfigMap(
    { name: 'hosts', namespace: 'kube-system', body: { data: { b: 'x' }, metadata: { labels: { l: '1' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  t.same(merged.data, { a: '2', b: 'x' });
  const strategic = await core.patchNamespacedConfigMap(
    { name: 'hosts', namespace: 'kube-system', body: { data: { a: null } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  t.same(strategic.data, { b: 'x' });
  const jsonPatched = await core.patchNamespacedConfigMap({ name: 'hosts', namespace: 'kube-system', body: [{ op: 'add', path: '/data/c', value: 'y' }] });
  t.same(jsonPatched.data, { b: 'x', c: 'y' }, 'json patch is the client default');
  const stalePatch = await core
    .patchNamespacedConfigMap(
      { name: 'hosts', namespace: 'kube-system', body: { metadata: { resourceVersion: '1' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    .catch((e: unknown) => e);
  t.equal(codeOf(stalePatch), 409, 'a patch carrying a stale resourceVersion conflicts');

  await core.deleteNamespacedConfigMap({ name: 'hosts', namespace: 'kube-system' });
  const missing = await core.readNamespacedConfigMap({ name: 'hosts', namespace: 'kube-system' }).catch((e: unknown) => e);
  t.equal(codeOf(missing), 404);
  t.same(statusOf(missing), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'configmaps "hosts" not found',
    reason: 'NotFound',
    code: 404,
    details: { name: 'hosts', kind: 'configmaps' },
  });
  t.equal(server.store.get('configmaps', 'kube-system', 'hosts'), undefined);
  t.ok(
    server.requests.some((r) => r.method === 'PATCH' && r.path === '/api/v1/namespaces/kube-system/configmaps/hosts'),
    'requests recorded',
  );
});

t.test('nodes: cluster-scoped, status subresource, list with selectors and paging', async (t) => {
  const { server, kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  for (const [name, edge] of [
    ['edge-1', 'true'],
    ['edge-2', 'true'],
    ['cloud-1', 'false'],
  ] as const) {
    await core.createNode({ body: { metadata: { name, labels: { 'edge-tunnel.io/edge': edge } } } });
  }
  const edges = await core.listNode({ labelSelector: 'edge-tunnel.io/edge=true' });
  t.equal(edges.kind, 'NodeList');
  t.same(
    edges.items.map((n) => n.metadata?.name),
    ['edge-1', 'edge-2'],
  );
  t.equal(edges.items[0]?.kind, 'Node', 'items carry kind');
  t.equal(edges.metadata?.resourceVersion, server.store.resourceVersion());
  const byName = await core.listNode({ fieldSelector: 'metadata.name=cloud-1' });
  t.same(
    byName.items.map((n) => n.metadata?.name),
    ['cloud-1'],
  );
  const page1 = await core.listNode({ limit: 2 });
  t.equal(page1.items.length, 2);
  t.ok(page1.metadata?._continue, 'continue token');
  const page2 = await core.listNode({ limit: 2, _continue: page1.metadata!._continue! });
  t.same(
    page2.items.map((n) => n.metadata?.name),
    ['edge-2'],
  );
  t.notOk(page2.metadata?._continue);

  const status = await core.patchNodeStatus(
    { name: 'edge-1', body: { status: { conditions: [{ type: 'Ready', status: 'True' }] } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  t.equal(status.status?.conditions?.[0]?.status, 'True');
  const node = await core.readNode({ name: 'edge-1' });
  t.equal(node.metadata?.namespace, undefined);
  await core.replaceNodeStatus({ name: 'edge-1', body: { ...node, status: { conditions: [{ type: 'Ready', status: 'False' }] } } });
  t.equal((await core.readNodeStatus({ name: 'edge-1' })).status?.conditions?.[0]?.status, 'False');
  await core.deleteNode({ name: 'cloud-1' });
  t.same(
    (await core.listNode()).items.map((n) => n.metadata?.name),
    ['edge-1', 'edge-2'],
  );
});

t.test('events, secrets, pods across namespaces', async (t) => {
  const { kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  const event = await core.createNamespacedEvent({
    namespace: 'default',
    body: {
      metadata: { generateName: 'edge-1.' },
      involvedObject: { kind: 'Node', name: 'edge-1' },
      reason: 'TunnelConnected',
      message: 'agent connected',
      type: 'Normal',
      count: 1,
    },
  });
  t.match(event.metadata?.name, /^edge-1\.[a-z0-9]{5}$/, 'generateName');
  const listed = await core.listEventForAllNamespaces({ fieldSelector: 'involvedObject.name=edge-1,reason=TunnelConnected' });
  t.equal(listed.items.length, 1);
  const secret = await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' }, stringData: { token: 'abc' } } });
  t.same(secret.data, { token: Buffer.from('abc').toString('base64') });
  await core.createNamespacedPod({ namespace: 'a', body: { metadata: { name: 'p' }, spec: { nodeName: 'edge-1', containers: [{ name: 'c' }] } } });
  await core.createNamespacedPod({ namespace: 'b', body: { metadata: { name: 'p' }, spec: { nodeName: 'edge-2', containers: [{ name: 'c' }] } } });
  const onEdge1 = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=edge-1' });
  t.same(
    onEdge1.items.map((p) => p.metadata?.namespace),
    ['a'],
  );
  const ns = await core.listNamespace();
  t.ok(
    ns.items.some((n) => n.metadata?.name === 'kube-system' && n.status?.phase === 'Active'),
    'initial namespaces',
  );
});

t.test('leases: create, renew, conflict on a stale resourceVersion', async (t) => {
  const { kc } = await withClient(t);
  const coord = kc.makeApiClient(CoordinationV1Api);
  const lease = await coord.createNamespacedLease({
    namespace: 'kube-system',
    body: { metadata: { name: 'edge-tunnel-server' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
  });
  t.equal(lease.apiVersion, 'coordination.k8s.io/v1');
  const renewTime = new Date();
  const renewed = await coord.replaceNamespacedLease({
    name: 'edge-tunnel-server',
    namespace: 'kube-system',
    body: { ...lease, spec: { ...lease.spec, holderIdentity: 'a', renewTime } },
  });
  t.not(renewed.metadata?.resourceVersion, lease.metadata?.resourceVersion);
  const stolen = await coord
    .replaceNamespacedLease({ name: 'edge-tunnel-server', namespace: 'kube-system', body: { ...lease, spec: { holderIdentity: 'b' } } })
    .catch((e: unknown) => e);
  t.equal(codeOf(stolen), 409, 'the loser of a race sees Conflict');
  t.match(statusOf(stolen), { reason: 'Conflict', details: { name: 'edge-tunnel-server', group: 'coordination.k8s.io', kind: 'leases' } });
  const read = await coord.readNamespacedLease({ name: 'edge-tunnel-server', namespace: 'kube-system' });
  t.equal(read.spec?.holderIdentity, 'a');
  // client-node has no V1MicroTime deserializer: renewTime may come back as a string or a Date.
  t.equal(new Date(read.spec?.renewTime as unknown as string).getTime(), renewTime.getTime(), 'renewTime round-trips');
});

t.test('errors over raw HTTP: malformed JSON, unknown paths, wrong verbs, preconditions', async (t) => {
  const server = await withServer(t);
  const bad = await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', '{"metadata": ');
  t.equal(bad.status, 400);
  t.match(bad.json, { kind: 'Status', reason: 'BadRequest', code: 400, message: /could not be decoded as JSON/ });
  t.match(await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', '[]'), { status: 400 });
  t.match(await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', '{"metadata":{}}'), { status: 422, json: { reason: 'Invalid' } });
  t.match(await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', '{"metadata":{"name":"x","namespace":"other"}}'), { status: 400 });
  t.match(await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', 'k8s\0', 'application/vnd.kubernetes.protobuf'), { status: 415 });
  t.match(await raw(server, 'GET', '/api/v1/widgets'), {
    status: 404,
    json: { reason: 'NotFound', message: 'the server could not find the requested resource' },
  });
  t.match(await raw(server, 'GET', '/nope'), { status: 404 });
  t.match(await raw(server, 'GET', '/api/v2'), { status: 404 });
  t.match(await raw(server, 'GET', '/openapi/v2'), { status: 404 });
  t.match(await raw(server, 'POST', '/api/v1/pods', '{}'), { status: 405, json: { reason: 'MethodNotAllowed' } });
  t.match(await raw(server, 'GET', '/api/v1/namespaces/default/pods/p/log'), { status: 404 });
  t.match(await raw(server, 'GET', '/api/v1/nodes?labelSelector=a%20in%201'), { status: 400, json: { reason: 'BadRequest' } });
  t.match(await raw(server, 'GET', '/api/v1/nodes?continue=garbage'), { status: 400 });
  t.match(await raw(server, 'PUT', '/api/v1/namespaces/default/configmaps/x', '{"metadata":{"name":"x"}}'), { status: 404 });
  const created = await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', '{"metadata":{"name":"x"}}');
  t.equal(created.status, 201);
  t.match(await raw(server, 'PUT', '/api/v1/namespaces/default/configmaps/x', '{"metadata":{"name":"y"}}'), { status: 400 });
  t.match(await raw(server, 'PATCH', '/api/v1/namespaces/default/configmaps/x', '{}', 'application/apply-patch+yaml'), { status: 415 });
  t.match(await raw(server, 'DELETE', '/api/v1/namespaces/default/configmaps/x', '{"preconditions":{"resourceVersion":"1"}}'), { status: 409 });
  const deleted = await raw(server, 'DELETE', '/api/v1/namespaces/default/configmaps/x');
  t.match(deleted, { status: 200, json: { kind: 'ConfigMap', metadata: { name: 'x' } } });
  t.match(await raw(server, 'DELETE', '/api/v1/namespaces/default/configmaps/x'), { status: 404 });
  server.store.put('configmaps', { metadata: { name: 'a', labels: { gc: 'yes' } } });
  server.store.put('configmaps', { metadata: { name: 'b' } });
  t.match(await raw(server, 'DELETE', '/api/v1/namespaces/default/configmaps?labelSelector=gc'), {
    status: 200,
    json: { kind: 'ConfigMapList', items: [{ metadata: { name: 'a' } }] },
  });
  t.same(
    server.store.list('configmaps').map((c) => c.metadata.name),
    ['b'],
  );
});

t.test('discovery documents', async (t) => {
  const server = await withServer(t);
  t.match((await raw(server, 'GET', '/api')).json, { kind: 'APIVersions', versions: ['v1'] });
  t.match((await raw(server, 'GET', '/apis')).json, {
    kind: 'APIGroupList',
    groups: [{ name: 'coordination.k8s.io', preferredVersion: { groupVersion: 'coordination.k8s.io/v1' } }],
  });
  t.match((await raw(server, 'GET', '/apis/coordination.k8s.io')).json, { kind: 'APIGroup', name: 'coordination.k8s.io' });
  t.match(await raw(server, 'GET', '/apis/example.com'), { status: 404 });
  const v1 = (await raw(server, 'GET', '/api/v1')).json as {
    resources: Array<{ name: string; namespaced: boolean; kind: string; verbs: string[]; shortNames?: string[] }>;
  };
  const names = v1.resources.map((r) => r.name);
  for (const n of [
    'pods',
    'pods/log',
    'pods/exec',
    'pods/attach',
    'pods/portforward',
    'pods/status',
    'nodes',
    'nodes/proxy',
    'nodes/status',
    'configmaps',
    'secrets',
    'events',
    'services',
    'endpoints',
    'namespaces',
  ]) {
    t.ok(names.includes(n), n);
  }
  t.match(
    v1.resources.find((r) => r.name === 'nodes'),
    { namespaced: false, kind: 'Node', shortNames: ['no'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
  );
  t.match(
    v1.resources.find((r) => r.name === 'configmaps'),
    { namespaced: true, shortNames: ['cm'] },
  );
  t.match((await raw(server, 'GET', '/apis/coordination.k8s.io/v1')).json, {
    groupVersion: 'coordination.k8s.io/v1',
    resources: [{ name: 'leases', kind: 'Lease', namespaced: true }],
  });
  t.match((await raw(server, 'GET', '/version')).json, { major: '1', gitVersion: /^v1\./ });
});

t.test('table output for kubectl get', async (t) => {
  const server = await withServer(t);
  server.store.put('pods', {
    metadata: { name: 'p' },
    spec: { containers: [{}, {}] },
    status: { phase: 'Running', containerStatuses: [{ ready: true, restartCount: 2 }, { ready: false }] },
  });
  const res = await fetch(`${server.url}/api/v1/pods`, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
  const table = (await res.json()) as {
    kind: string;
    columnDefinitions: Array<{ name: string }>;
    rows: Array<{ cells: unknown[]; object: { metadata: { namespace: string } } }>;
  };
  t.equal(table.kind, 'Table');
  t.same(
    table.columnDefinitions.map((c) => c.name),
    ['Name', 'Ready', 'Status', 'Restarts', 'Age'],
  );
  t.match(table.rows[0], { cells: ['p', '1/2', 'Running', 2, /^\d+s$/], object: { metadata: { namespace: 'default' } } });
});

const OPENSSL = '/usr/bin/openssl';

t.test('serves HTTPS when given a certificate', { skip: existsSync(OPENSSL) ? false : `${OPENSSL} is absent` }, async (t) => {
  const dir = t.testdir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run(OPENSSL, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const { server, kc } = await withClient(t, { tls: { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') } });
  t.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.match(server.kubeconfig(), /insecure-skip-tls-verify: true/);
  const ns = await kc.makeApiClient(CoreV1Api).listNamespace();
  t.ok(
    ns.items.some((n) => n.metadata?.name === 'default'),
    'client-node over TLS',
  );
});

// Services created through the API get a clusterIP as kube-apiserver's allocator gives one (the
// edge-tunnel server reads it in DNS capture mode); headless and ExternalName Services get none.
t.test('created Services get a free clusterIP; a given one, None and ExternalName are kept', async (t) => {
  const { server, kc } = await withClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  const ports = [{ port: 80 }];
  const create = (name: string, spec: Record<string, unknown>) =>
    core.createNamespacedService({ namespace: 'kube-system', body: { metadata: { name }, spec: { ports, ...spec } } });
  const a = await create('a', {});
  const b = await create('b', { type: 'LoadBalancer' });
  t.match(a.spec?.clusterIP, /^10\.96\.\d+\.\d+$/);
  t.same(a.spec?.clusterIPs, [a.spec?.clusterIP]);
  t.not(b.spec?.clusterIP, a.spec?.clusterIP, 'two Services, two addresses');
  t.equal((await create('given', { clusterIP: '10.96.7.7' })).spec?.clusterIP, '10.96.7.7');
  t.equal((await create('headless', { clusterIP: 'None' })).spec?.clusterIP, 'None');
  t.equal((await create('ext', { type: 'ExternalName', externalName: 'example.invalid' })).spec?.clusterIP, undefined);
  t.equal((server.store.get('services', 'kube-system', 'a')?.spec as { clusterIP?: string }).clusterIP, a.spec?.clusterIP, 'stored as answered');
});
