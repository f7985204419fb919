// Attack: an edge Node named like a cluster name (`kubernetes.default.svc.cluster.local`,
// `kube-dns.kube-system`) in dns capture mode. The CoreDNS hosts block is consulted before the
// `kubernetes` plugin, so before the fix that name went into the hosts file and every in-cluster
// client resolving it reached the tunnel server instead of the API Service. Now such names are left
// out of the hosts file with a warn line naming the node and the rule, /debug/cluster lists them, and
// ordinary names (also dotted FQDN host names) are still published.
import t from 'tap';
import { DNS_HOSTS_KEY } from '../src/cluster/capture.js';
import { NS, nodeObject, startApi, startClusterServer, until } from './fixtures/cluster.js';
import { meta } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
t.setTimeout(120_000);
const SVC_IP = '10.96.0.50';

t.test('edge Node names that would shadow cluster names are not written to the CoreDNS hosts file', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.220.1']));
  api.api.store.put('nodes', nodeObject('kubernetes.default.svc.cluster.local', ['127.0.220.2']));
  api.api.store.put('nodes', nodeObject('kube-dns.kube-system', ['127.0.220.3']));
  api.api.store.put('nodes', nodeObject('edge-b.corp.example.com', ['127.0.220.4']));
  api.api.store.put('services', {
    metadata: { name: 'edge-tunnel-server-internal', namespace: NS },
    spec: { type: 'ClusterIP', clusterIP: SVC_IP, ports: [{ name: 'kubelet-https', port: 10250, targetPort: 'https', protocol: 'TCP' }] },
  });
  const server = await startClusterServer(t, pki, api, ['--server-id', 'server-0']);
  const hosts = (): string | undefined =>
    (api.api.store.get('configmaps', NS, 'edge-tunnel-nodes') as { data?: Record<string, string> } | undefined)?.data?.[DNS_HOSTS_KEY];
  await until(() => hosts() !== undefined, 'hosts ConfigMap written');
  t.equal(hosts(), `${SVC_IP}\tedge-a\n${SVC_IP}\tedge-b.corp.example.com\n`, 'only names that shadow nothing of the cluster');
  t.notMatch(hosts(), /kubernetes|kube-dns/, 'no cluster name is shadowed');

  const warns = server.logs.lines.filter((l) => l['msg'] === 'node name not published in dns hosts');
  t.strictSame(
    warns.map((l) => [l['nodeName'], l['code']]).sort(),
    [
      ['kube-dns.kube-system', 'SERVICE_FORM'],
      ['kubernetes.default.svc.cluster.local', 'CLUSTER_DOMAIN'],
    ],
    'one warn line per refused node, naming the rule',
  );
  t.match(warns.find((l) => l['code'] === 'CLUSTER_DOMAIN')?.['reason'], /inside the cluster domain cluster\.local.*reach the node by IP or rename it/);
  t.equal(warns[0]?.['level'], 40, 'at warn');
  const debug = (await meta(server, '/debug/cluster')).json();
  t.equal(debug.capture.mode, 'dns');
  t.strictSame(
    [...debug.capture.unpublished].sort((a: any, b: any) => a.nodeName.localeCompare(b.nodeName)),
    [
      { nodeName: 'kube-dns.kube-system', code: 'SERVICE_FORM' },
      { nodeName: 'kubernetes.default.svc.cluster.local', code: 'CLUSTER_DOMAIN' },
    ],
    '/debug/cluster lists them',
  );

  // the next Node change re-applies the rule; a refused name is not warned again
  api.api.store.put('nodes', nodeObject('edge-c', ['127.0.220.5']));
  await until(() => hosts()?.includes('edge-c') === true, 'a new ordinary node published');
  t.notMatch(hosts(), /kubernetes|kube-dns/);
  t.equal(server.logs.lines.filter((l) => l['msg'] === 'node name not published in dns hosts').length, 2, 'no repeated warn lines');
});

t.test('--cluster-domain moves the refused domain', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.220.11']));
  api.api.store.put('nodes', nodeObject('api.svc2.corp.internal', ['127.0.220.12']));
  api.api.store.put('services', {
    metadata: { name: 'edge-tunnel-server-internal', namespace: NS },
    spec: { type: 'ClusterIP', clusterIP: SVC_IP, ports: [{ name: 'kubelet-https', port: 10250, targetPort: 'https', protocol: 'TCP' }] },
  });
  await startClusterServer(t, pki, api, ['--server-id', 'server-0', '--cluster-domain', 'corp.internal']);
  const hosts = (): string | undefined =>
    (api.api.store.get('configmaps', NS, 'edge-tunnel-nodes') as { data?: Record<string, string> } | undefined)?.data?.[DNS_HOSTS_KEY];
  await until(() => hosts() !== undefined, 'hosts ConfigMap written');
  t.equal(hosts(), `${SVC_IP}\tedge-a\n`);
});
