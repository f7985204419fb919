// loadKubeConfig and createClients: --kubeconfig against the fake API server, bad paths and contents,
// in-cluster (service account token, KUBERNETES_SERVICE_HOST).
import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_ACCOUNT_TOKEN, createClients, loadKubeConfig } from '../src/client.js';
import { withServer } from './fixtures/harness.js';

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
