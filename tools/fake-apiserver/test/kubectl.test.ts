import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';
import { waitFor, withServer } from './fixtures/harness.js';

const KUBECTL = '/usr/bin/kubectl';
const run = promisify(execFile);

t.test('the real kubectl against the fake server', { skip: existsSync(KUBECTL) ? false : `${KUBECTL} is absent` }, async (t) => {
  const server = await withServer(t);
  const dir = t.testdir();
  const kubeconfig = join(dir, 'kubeconfig');
  server.kubeconfig(kubeconfig);
  // Async exec: the server runs in this process and must keep serving while kubectl waits.
  const kubectl = async (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => {
    const env = { PATH: process.env.PATH ?? '/usr/bin', HOME: dir };
    try {
      const { stdout, stderr } = await run(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { env, timeout: 20_000 });
      return { stdout, stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  };
  server.store.put('nodes', {
    metadata: { name: 'edge-1', labels: { 'node-role.kubernetes.io/edge': '' } },
    status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } },
  });
  server.store.put('nodes', { metadata: { name: 'edge-2' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } });
  server.store.put('pods', {
    metadata: { name: 'web', namespace: 'default' },
    spec: { nodeName: 'edge-1', containers: [{ name: 'c' }] },
    status: { phase: 'Running', containerStatuses: [{ ready: true, restartCount: 0 }] },
  });
  server.store.put('pods', { metadata: { name: 'dns', namespace: 'kube-system' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Pending' } });
  server.store.put('configmaps', { metadata: { name: 'x', namespace: 'kube-system' }, data: { 'edge-1': '10.0.0.1' } });

  const json = await kubectl('get', 'nodes', '-o', 'json');
  t.equal(json.code, 0, json.stderr);
  const list = JSON.parse(json.stdout) as { items: Array<{ kind: string; metadata: { name: string } }> };
  t.same(
    list.items.map((n) => `${n.kind}/${n.metadata.name}`),
    ['Node/edge-1', 'Node/edge-2'],
    'get nodes -o json',
  );

  const pods = await kubectl('get', 'pods', '-A');
  t.equal(pods.code, 0, pods.stderr);
  const rows = pods.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  t.same(rows[0], ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'], 'get pods -A header (served as a Table)');
  t.same(
    rows.slice(1).map((r) => r.slice(0, 5)),
    [
      ['default', 'web', '1/1', 'Running', '0'],
      ['kube-system', 'dns', '0/1', 'Pending', '0'],
    ],
  );

  const cm = await kubectl('get', 'configmap', '-n', 'kube-system', 'x', '-o', 'yaml');
  t.equal(cm.code, 0, cm.stderr);
  t.match(parse(cm.stdout), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'x', namespace: 'kube-system', resourceVersion: /^\d+$/ },
    data: { 'edge-1': '10.0.0.1' },
  });

  const nodes = await kubectl('get', 'nodes');
  t.match(nodes.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\nedge-1\s+Ready\s+edge\s+\S+\s+v1\.32\.0\nedge-2\s+NotReady\s+<none>/, 'get nodes');

  const missing = await kubectl('get', 'configmap', 'nope');
  t.equal(missing.code, 1);
  t.match(missing.stderr, 'Error from server (NotFound): configmaps "nope" not found');

  t.equal((await kubectl('label', 'node', 'edge-2', 'zone=a')).code, 0, 'label (strategic merge patch)');
  t.same(server.store.get('nodes', undefined, 'edge-2')?.metadata.labels, { zone: 'a' });
  t.match((await kubectl('get', 'nodes', '-l', 'zone=a', '-o', 'name')).stdout, /^node\/edge-2\n$/);

  const manifest = join(dir, 'cm.yaml');
  writeFileSync(manifest, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n');
  // Validation as kubectl does it by default: server-side, found through /openapi/v3.
  t.equal((await kubectl('apply', '-f', manifest)).code, 0, 'apply (create)');
  writeFileSync(manifest, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: w\n');
  t.equal((await kubectl('apply', '-f', manifest)).code, 0, 'apply (patch)');
  t.same(server.store.get('configmaps', 'default', 'applied')?.data, { k: 'w' });
  t.equal((await kubectl('delete', 'configmap', '-n', 'kube-system', 'x')).code, 0, 'delete');
  t.equal(server.store.get('configmaps', 'kube-system', 'x'), undefined);

  // get -w: the watch events carry one-row Tables, printed under the list's header.
  const watcher = spawn(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'get', 'pods', '-A', '-w'], { env: { HOME: dir } });
  t.teardown(() => void watcher.kill());
  let out = '';
  watcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(() => out.includes('dns'), 'the initial list', 15_000);
  server.store.put('pods', { metadata: { name: 'late', namespace: 'default' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Running' } });
  await waitFor(() => out.includes('late'), 'the watched pod', 15_000);
  t.match(out, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n[^]*\ndefault\s+late\s+0\/1\s+Running\s+0\s+\S+\n/, 'get pods -A -w');
});
