// Capture in cluster mode. iptables: a fake runner (the real rules are tested in libs/capture's own
// network-namespace tests) sees DNAT rules for exactly the edge Nodes' IPs and configured ports,
// re-applied on changes, removed on close. dns: the Lease leader writes the hosts ConfigMap.
import type { IptablesRunner, RunResult } from '@edge-tunnel/capture';
import t from 'tap';
import { NS, nodeObject, portConfigMap, startApi, startClusterServer, until } from './fixtures/cluster.js';
import { meta } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
t.setTimeout(120_000);

/** Answers iptables-save with what the last iptables-restore installed (jumps as -A), like a kernel would. */
class FakeIptables implements IptablesRunner {
  readonly restores: string[] = [];
  #saved = '';

  async run(cmd: string, _args: string[], stdin?: string): Promise<RunResult> {
    if (cmd === 'iptables-save') return { code: 0, stdout: this.#saved, stderr: '' };
    if (cmd === 'iptables-restore') {
      this.restores.push(stdin ?? '');
      this.#saved = /^-X /m.test(stdin ?? '') ? '' : (stdin ?? '').replace(/^-I (\S+) 1 /gm, '-A $1 ');
    }
    return { code: 0, stdout: '', stderr: '' };
  }

  last(): string {
    return this.restores.at(-1) ?? '';
  }
}

t.test('iptables capture: DNAT rules for edge Node IPs only, following nodes and config, removed on close', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['10.0.0.5']));
  api.api.store.put('nodes', nodeObject('edge-b', ['10.0.0.6']));
  api.api.store.put('nodes', nodeObject('cloud-1', ['10.0.0.9'], {}));
  const runner = new FakeIptables();
  const server = await startClusterServer(t, pki, api, ['--capture', 'iptables', '--iptables-http-target', '10.1.1.1:10264'], { iptablesRunner: runner });
  const https = `127.0.0.1:${server.addr.https.port}`;
  await until(() => /10\.0\.0\.6/.test(runner.last()), 'rules for both edge nodes');
  const rules = runner.last();
  t.match(
    rules,
    new RegExp(`-d 10\\.0\\.0\\.5/32 -p tcp --dport 10250 .*-j DNAT --to-destination ${https.replaceAll('.', '\\.')}`),
    'HTTPS target: the bound HTTPS listener',
  );
  t.match(rules, /-d 10\.0\.0\.6\/32 -p tcp --dport 10255 .*-j DNAT --to-destination 10\.1\.1\.1:10264/, 'HTTP target: --iptables-http-target');
  t.notMatch(rules, /10\.0\.0\.9/, 'a cloud node is never captured');
  t.notMatch(rules, /203\.0\.113\.9/, 'ExternalIPs are not captured');

  api.api.store.put('configmaps', portConfigMap({ 'dnat-ports-pair': '9100=10264' }));
  await until(() => /--dport 9100/.test(runner.last()), 'a configured port captured live');
  t.match(runner.last(), /-d 10\.0\.0\.5\/32 -p tcp --dport 9100 .*--to-destination 10\.1\.1\.1:10264/);

  api.api.store.put('nodes', nodeObject('edge-b', ['10.0.0.6'], {}));
  await until(() => !/10\.0\.0\.6/.test(runner.last()), 'a relabelled node released');
  t.match(runner.last(), /10\.0\.0\.5/);
  t.match((await meta(server, '/debug/cluster')).json(), { capture: { mode: 'iptables', ok: true, nodeIps: ['10.0.0.5'] } });

  const before = runner.restores.length;
  await server.handle.close();
  t.ok(runner.restores.length > before, 'close() ran a teardown');
  t.match(runner.last(), /^-X EDGE-TUNNEL-OUTPUT$/m, 'our chains deleted');
  t.match(runner.last(), /^-D OUTPUT /m, 'the hook jump removed');
});

t.test('dns capture: the Lease leader writes the hosts ConfigMap and releases the Lease on close', async (t) => {
  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', ['127.0.20.1']));
  api.api.store.put('services', {
    metadata: { name: 'edge-tunnel-server-internal', namespace: NS },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.50', ports: [{ name: 'kubelet-https', port: 10250, targetPort: 'https', protocol: 'TCP' }] },
  });
  const server = await startClusterServer(t, pki, api, ['--server-id', 'server-0']);
  const hosts = (): string | undefined =>
    (api.api.store.get('configmaps', NS, 'edge-tunnel-nodes') as { data?: Record<string, string> } | undefined)?.data?.['tunnel-nodes'];
  await until(() => hosts() === '10.96.0.50\tedge-a\n', 'hosts ConfigMap written');
  const lease = (): Record<string, any> | undefined => api.api.store.get('leases', NS, 'edge-tunnel-server') as Record<string, any> | undefined;
  t.equal(lease()?.['spec']['holderIdentity'], 'server-0', 'this replica leads');
  t.match((await meta(server, '/debug/cluster')).json(), { capture: { mode: 'dns', leader: true } });

  api.api.store.put('nodes', nodeObject('edge-c', ['127.0.20.3'], { 'openyurt.io/is-edge-worker': 'true' }));
  await until(() => hosts() === '10.96.0.50\tedge-a\n10.96.0.50\tedge-c\n', 'a new edge node published');
  api.api.store.put('configmaps', portConfigMap({ 'dnat-ports-pair': '9100=10264' }));
  const ports = (): Array<{ port: number; targetPort: unknown }> =>
    (api.api.store.get('services', NS, 'edge-tunnel-server-internal') as Record<string, any>)?.['spec']['ports'] ?? [];
  await until(() => ports().some((p) => p.port === 9100), 'the custom port reaches the internal Service');
  const custom = ports().find((p) => p.port === 9100)!;
  t.ok(custom.targetPort === 10264 || custom.targetPort === 'http', `9100 goes to the HTTP channel (targetPort ${String(custom.targetPort)})`);
  t.ok(
    ports().some((p) => p.port === 10250),
    'the built-in kubelet port stays',
  );

  await server.handle.close();
  t.equal(lease()?.['spec']['holderIdentity'], '', 'Lease released for the next replica');
});
