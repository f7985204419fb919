// Leader election on a Lease, and the DNS hosts writer that only the leader runs (plus its pure helpers).
import t from 'tap';
import type { KubeConfig } from '@kubernetes/client-node';
import { parsePortConfig } from '@edge-tunnel/dnat';
import type { KubeObject } from '@edge-tunnel/fake-apiserver';
import { LeaderElector } from '../src/leader.js';
import type { LeaderElectorOptions } from '../src/leader.js';
import { FAST_BACKOFF, recordingLogger, sleep, waitFor, withServer } from './fixtures/harness.js';
import { DnsHostsWriter } from '../src/dns-hosts.js';
import { desiredServicePorts, hostsText, samePorts } from '../src/service-ports.js';

t.test('leader', async (t) => {
  const LEASE = { namespace: 'kube-system', name: 'edge-tunnel-server' };
  const fast = (identity: string, extra: Partial<LeaderElectorOptions> = {}): LeaderElectorOptions => ({
    identity,
    leaseDurationSeconds: 1,
    renewIntervalMs: 200,
    retryIntervalMs: 100,
    ...extra,
  });

  function elector(t: { teardown(fn: () => unknown): void }, kc: KubeConfig, opts: LeaderElectorOptions): LeaderElector {
    const e = new LeaderElector(kc, opts);
    t.teardown(() => e.stop({ release: false }));
    return e;
  }

  t.test('creates the Lease, renews it, and releases it on stop', async (t) => {
    const { server, kc } = await withServer(t);
    const a = elector(t, kc, fast('a'));
    const seen: string[] = [];
    a.on('leading', () => seen.push('leading'));
    a.on('stopped-leading', () => seen.push('stopped'));
    a.start();
    await waitFor(() => a.isLeader, 'a leads');
    const lease = () => server.store.get('leases', LEASE.namespace, LEASE.name)!;
    t.match(lease().spec, { holderIdentity: 'a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    t.match((lease().spec as { renewTime: string }).renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime format');
    const firstRenew = (lease().spec as { renewTime: string }).renewTime;
    await waitFor(() => (lease().spec as { renewTime: string }).renewTime !== firstRenew, 'renewed');
    t.equal(a.holder, 'a');
    await a.stop();
    t.notOk(a.isLeader);
    t.same(seen, ['leading', 'stopped']);
    t.equal((lease().spec as { holderIdentity?: string }).holderIdentity, '', 'released');
  });

  t.test('killing the leader moves leadership within leaseDuration + retry', async (t) => {
    const { kc } = await withServer(t);
    // A 2 s lease: a loaded machine must not make the renewing leader look dead.
    const opts = { leaseDurationSeconds: 2, renewIntervalMs: 300 };
    const a = elector(t, kc, fast('a', opts)).start();
    await waitFor(() => a.isLeader, 'a leads');
    const b = elector(t, kc, fast('b', opts));
    const newLeaders: string[] = [];
    b.on('new-leader', (id) => newLeaders.push(id));
    b.start();
    await sleep(1500);
    t.ok(a.isLeader, 'a still leads while it renews');
    t.notOk(b.isLeader, 'b waits');
    const killed = Date.now();
    await a.stop({ release: false }); // stops renewing, lease left to expire
    await waitFor(() => b.isLeader, 'b takes over', 6000);
    const tookMs = Date.now() - killed;
    t.ok(tookMs >= 1400, `b waited for the lease to expire (${tookMs} ms)`);
    t.ok(tookMs <= 2000 + 100 + 1500, `b took over within leaseDuration + retry (+ slack): ${tookMs} ms`);
    t.same(newLeaders, ['a', 'b']);
  });

  t.test('a released lease is taken at the next retry, long before it would expire', async (t) => {
    const { server, kc } = await withServer(t);
    const a = elector(t, kc, fast('a', { leaseDurationSeconds: 5, renewIntervalMs: 500 })).start();
    await waitFor(() => a.isLeader, 'a leads');
    const b = elector(t, kc, fast('b', { leaseDurationSeconds: 5, renewIntervalMs: 500 })).start();
    await sleep(300);
    const released = Date.now();
    await a.stop({ release: true });
    await waitFor(() => b.isLeader, 'b takes over', 4000);
    t.ok(Date.now() - released < 2000, `took ${Date.now() - released} ms (lease is 5 s)`);
    t.match(server.store.get('leases', LEASE.namespace, LEASE.name)!.spec, { holderIdentity: 'b', leaseTransitions: 1 });
  });

  t.test('a leader that finds someone else holding the Lease stops leading', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const a = elector(t, kc, fast('a', { logger: log })).start();
    await waitFor(() => a.isLeader, 'a leads');
    let stopped = 0;
    a.on('stopped-leading', () => stopped++);
    const lease = server.store.get('leases', LEASE.namespace, LEASE.name)!;
    (lease.spec as Record<string, unknown>).holderIdentity = 'intruder';
    (lease.spec as Record<string, unknown>).leaseDurationSeconds = 30;
    server.store.put('leases', lease);
    await waitFor(() => !a.isLeader, 'a steps down');
    t.equal(stopped, 1);
    t.equal(a.holder, 'intruder');
    t.ok(log.lines.some((l) => l.msg === 'lost leadership'));
  });

  t.test('only one of three electors leads at any time', async (t) => {
    const { kc } = await withServer(t);
    const all = ['a', 'b', 'c'].map((id) => elector(t, kc, fast(id, { leaseDurationSeconds: 2, renewIntervalMs: 300 })).start());
    let maxLeaders = 0;
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      maxLeaders = Math.max(maxLeaders, all.filter((e) => e.isLeader).length);
      await sleep(20);
    }
    t.equal(maxLeaders, 1);
  });

  t.test('bad options are refused', async (t) => {
    const { kc } = await withServer(t);
    t.throws(() => new LeaderElector(kc, { identity: '' }), { code: 'ERR_KUBE_INVALID_OPTIONS' });
    t.throws(() => new LeaderElector(kc, { identity: 'x', leaseDurationSeconds: 1, renewIntervalMs: 1000 }), { code: 'ERR_KUBE_INVALID_OPTIONS' });
  });
});

t.test('dns-hosts', async (t) => {
  const NS = 'kube-system';
  const service = (ports: object[] = []): KubeObject => ({
    metadata: { name: 'edge-tunnel-server-internal', namespace: NS },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.42', ports },
  });
  const dataOf = (obj: KubeObject | undefined): Record<string, string> => (obj?.data ?? {}) as Record<string, string>;
  const MANIFEST_PORTS = [
    { name: 'kubelet-https', port: 10250, targetPort: 'https', protocol: 'TCP' },
    { name: 'kubelet-http', port: 10255, targetPort: 'http', protocol: 'TCP' },
    { name: 'dnat-9051', port: 9051, targetPort: 'http', protocol: 'TCP' },
  ];

  t.test('hostsText and desiredServicePorts (pure)', async (t) => {
    t.equal(hostsText('10.96.0.1', ['b', 'A', 'c', 'a']), '10.96.0.1\ta\n10.96.0.1\tb\n10.96.0.1\tc\n');
    t.equal(hostsText('10.96.0.1', []), '');
    const { config } = parsePortConfig({ 'dnat-ports-pair': '9051=10264', 'https-proxy-ports': '9443', 'http-proxy-ports': '9100' });
    const ports = desiredServicePorts(MANIFEST_PORTS, config);
    t.same(
      ports.map((p) => [p.name, p.port, p.targetPort]),
      [
        ['kubelet-https', 10250, 'https'],
        ['kubelet-http', 10255, 'http'],
        ['dnat-9051', 9051, 'http'],
        ['dnat-9100', 9100, 10264],
        ['https-9443', 9443, 10263],
      ],
      'existing equivalent entries kept, new ones numeric',
    );
    t.ok(samePorts(MANIFEST_PORTS, desiredServicePorts(MANIFEST_PORTS, parsePortConfig({ 'dnat-ports-pair': '9051=10264' }).config)));
    t.same(
      desiredServicePorts([], parsePortConfig({}).config).map((p) => [p.port, p.targetPort]),
      [
        [10250, 10263],
        [10255, 10264],
      ],
    );
    const moved = desiredServicePorts(MANIFEST_PORTS, parsePortConfig({ 'https-proxy-ports': '9051' }).config);
    t.same(moved.at(-1), { name: 'https-9051', port: 9051, targetPort: 10263, protocol: 'TCP' }, 'a port that changes channel is rewritten');
  });

  t.test('writes hosts lines and Service ports, and only when they change', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('services', service(MANIFEST_PORTS));
    const w = new DnsHostsWriter(kc, { backoff: FAST_BACKOFF }).start();
    t.teardown(() => w.stop());
    w.setNodes([{ name: 'edge-b' }, { name: 'edge-a' }]);
    await waitFor(() => server.store.get('configmaps', NS, 'edge-tunnel-nodes') !== undefined, 'ConfigMap created');
    const cm = () => server.store.get('configmaps', NS, 'edge-tunnel-nodes')!;
    t.same(cm().data, { 'tunnel-nodes': '10.96.0.42\tedge-a\n10.96.0.42\tedge-b\n' });
    const rv = cm().metadata.resourceVersion;
    await waitFor(() => w.writes === 1, 'one write');

    w.setNodes([{ name: 'edge-a' }, { name: 'edge-b' }]);
    await sleep(200);
    t.equal(cm().metadata.resourceVersion, rv, 'same content: not rewritten');
    t.equal(w.writes, 1);

    w.setNodes([{ name: 'edge-a' }]);
    await waitFor(() => dataOf(cm())['tunnel-nodes'] === '10.96.0.42\tedge-a\n', 'updated');

    const svcRv = server.store.get('services', NS, 'edge-tunnel-server-internal')!.metadata.resourceVersion;
    w.setPortConfig(parsePortConfig({ 'dnat-ports-pair': '9051=10264' }).config);
    await sleep(200);
    t.equal(server.store.get('services', NS, 'edge-tunnel-server-internal')!.metadata.resourceVersion, svcRv, 'ports already right: no patch');

    w.setPortConfig(parsePortConfig({ 'http-proxy-ports': '9100', 'https-proxy-ports': '9443' }).config);
    const ports = () => (server.store.get('services', NS, 'edge-tunnel-server-internal')!.spec as { ports: { port: number; targetPort: unknown }[] }).ports;
    await waitFor(() => ports().some((p) => p.port === 9443), 'Service patched');
    t.same(
      ports().map((p) => [p.port, p.targetPort]),
      [
        [10250, 'https'],
        [10255, 'http'],
        [9100, 10264],
        [9443, 10263],
      ],
      '9051 removed, 9100/9443 added, built-ins kept',
    );
    t.equal(
      (server.store.get('services', NS, 'edge-tunnel-server-internal')!.spec as { clusterIP: string }).clusterIP,
      '10.96.0.42',
      'the rest of the Service untouched',
    );

    // A hand edit is repaired on the next change.
    const edited = cm();
    edited.data = { 'tunnel-nodes': 'garbage\n', other: 'kept' };
    server.store.put('configmaps', edited);
    w.setNodes([{ name: 'edge-a' }]);
    await waitFor(() => dataOf(cm())['tunnel-nodes'] === '10.96.0.42\tedge-a\n', 'repaired');
    t.equal(dataOf(cm()).other, 'kept', 'other keys are left alone');
  });

  t.test('a missing Service is retried with backoff until it appears', async (t) => {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const w = new DnsHostsWriter(kc, { backoff: FAST_BACKOFF, logger: log }).start();
    t.teardown(() => w.stop());
    w.setNodes([{ name: 'edge-1' }]);
    await waitFor(() => log.lines.some((l) => l.msg === 'dns hosts sync failed'), 'a failure logged');
    server.store.put('services', service());
    await waitFor(() => server.store.get('configmaps', NS, 'edge-tunnel-nodes') !== undefined, 'written once the Service exists', 3000);
  });

  t.test('leader failover moves the DNS writer', async (t) => {
    const { server, kc } = await withServer(t);
    server.store.put('services', service(MANIFEST_PORTS));
    const lease = { leaseDurationSeconds: 2, renewIntervalMs: 300, retryIntervalMs: 100 };
    const leaderA = new LeaderElector(kc, { identity: 'server-a', ...lease });
    const leaderB = new LeaderElector(kc, { identity: 'server-b', ...lease });
    const writerA = new DnsHostsWriter(kc, { leader: leaderA, backoff: FAST_BACKOFF });
    const writerB = new DnsHostsWriter(kc, { leader: leaderB, backoff: FAST_BACKOFF });
    t.teardown(async () => {
      await Promise.all([writerA.stop(), writerB.stop()]);
      await Promise.all([leaderA.stop({ release: false }), leaderB.stop({ release: false })]);
    });
    for (const w of [writerA, writerB]) w.start().setNodes([{ name: 'edge-1' }]);
    leaderA.start();
    await waitFor(() => leaderA.isLeader, 'a leads');
    leaderB.start();
    const cm = () => server.store.get('configmaps', NS, 'edge-tunnel-nodes');
    await waitFor(() => cm() !== undefined && writerA.writes === 1, 'written by the leader');

    for (const w of [writerA, writerB]) w.setNodes([{ name: 'edge-1' }, { name: 'edge-2' }]);
    await waitFor(() => dataOf(cm())['tunnel-nodes']?.includes('edge-2') === true && writerA.writes === 2, 'leader follows changes');
    t.equal(writerB.writes, 0, 'the follower never writes');

    // Kill the leader: it stops renewing and writing.
    await leaderA.stop({ release: false });
    await writerA.stop();
    for (const w of [writerA, writerB]) w.setNodes([{ name: 'edge-1' }, { name: 'edge-2' }, { name: 'edge-3' }]);
    await waitFor(() => leaderB.isLeader, 'b leads', 6000);
    await waitFor(() => dataOf(cm())['tunnel-nodes']?.includes('edge-3') === true && writerB.writes === 1, 'written by the new leader');
    t.equal(writerA.writes, 2, 'the old leader wrote nothing more');
  });
});
