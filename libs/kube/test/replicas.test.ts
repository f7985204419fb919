// Replica membership from the server Service's EndpointSlices, against the fake API server: endpoints
// added, not ready, terminating and removed; slices of other Services; this replica before its
// endpoint exists; recovery after dropped watches and 410 Gone. replicasOf() on its own for the
// shapes the endpoints controller produces (dual stack, duplicates, missing port or targetRef).
import t from 'tap';
import type { KubeObject } from '@edge-tunnel/fake-apiserver';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { ReplicaEndpoints, ReplicaMembership, replicasOf } from '../src/replicas.js';
import type { MemberReplica } from '../src/replicas.js';
import { FAST_BACKOFF, recordingLogger, waitFor, withServer } from './fixtures/harness.js';
import type { TestContext } from './fixtures/harness.js';

const NS = 'kube-system';
const SELF: MemberReplica = { id: 'r1', addr: '10.0.0.1:10262' };

interface Ep {
  id?: string;
  ip?: string;
  ready?: boolean;
  terminating?: boolean;
}

/** An EndpointSlice as the endpoints controller writes it for `service`, port `agent` → `port`. */
function slice(name: string, port: number, eps: Ep[], opts: { service?: string; portName?: string; addressType?: string } = {}): KubeObject & V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { [ReplicaEndpoints.SERVICE_LABEL]: opts.service ?? ReplicaEndpoints.DEFAULT_SERVICE } },
    addressType: opts.addressType ?? 'IPv4',
    ports: [{ name: opts.portName ?? 'agent', port, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({
      addresses: e.ip === undefined ? [] : [e.ip],
      conditions: { ready: e.ready ?? true, serving: !(e.terminating ?? false), terminating: e.terminating ?? false },
      ...(e.id === undefined ? {} : { targetRef: { kind: 'Pod', namespace: NS, name: e.id } }),
    })),
  };
}

const text = (rs: MemberReplica[]): string => rs.map((r) => `${r.id}@${r.addr}`).join(' ');

t.test('membership', async (t) => {
  async function started(t: TestContext) {
    const { server, kc } = await withServer(t);
    const log = recordingLogger();
    const membership = new ReplicaMembership(kc, { self: SELF, namespace: NS, logger: log, backoff: FAST_BACKOFF });
    const changes: string[] = [];
    membership.on('change', (rs) => changes.push(text(rs)));
    return { server, log, membership, changes };
  }

  t.test('endpoints added, not ready, terminating and removed change the set', async (t) => {
    const { server, membership, changes } = await started(t);
    server.store.put(
      'endpointslices',
      slice('svc-a', 10262, [
        { id: 'r1', ip: '10.0.0.1' },
        { id: 'r2', ip: '10.0.0.2', ready: false },
        { id: 'r3', ip: '10.0.0.3' },
      ]),
    );
    server.store.put('endpointslices', slice('other-svc', 10262, [{ id: 'x9', ip: '10.0.0.9' }], { service: 'something-else' }));
    membership.start();
    t.teardown(() => membership.stop());
    await waitFor(() => changes.length === 1, 'the listed set');
    t.ok(membership.synced);
    t.equal(changes[0], 'r1@10.0.0.1:10262 r2@10.0.0.2:10262 r3@10.0.0.3:10262', "a not-ready endpoint is a replica; another Service's slice is not");

    server.store.put(
      'endpointslices',
      slice('svc-a', 10262, [
        { id: 'r1', ip: '10.0.0.1' },
        { id: 'r2', ip: '10.0.0.2', ready: false },
        { id: 'r3', ip: '10.0.0.3', terminating: true },
      ]),
    );
    await waitFor(() => changes.length === 2, 'r3 terminating');
    t.equal(changes[1], 'r1@10.0.0.1:10262 r2@10.0.0.2:10262', 'a terminating endpoint drops out');

    server.store.put('endpointslices', slice('svc-b', 20262, [{ id: 'r4', ip: '10.0.0.4', ready: false }]));
    await waitFor(() => changes.length === 3, 'r4 in a second slice');
    t.equal(changes[2], 'r1@10.0.0.1:10262 r2@10.0.0.2:10262 r4@10.0.0.4:20262', 'each slice brings its own port');

    server.store.put('endpointslices', slice('other-svc', 10262, [{ id: 'x8', ip: '10.0.0.8' }], { service: 'something-else' }));
    server.store.put(
      'endpointslices',
      slice('svc-a', 10262, [
        { id: 'r1', ip: '10.0.0.1' },
        { id: 'r2', ip: '10.0.0.2' },
      ]),
    );
    server.store.delete('endpointslices', NS, 'svc-b');
    await waitFor(() => changes.length === 4, 'svc-b deleted');
    t.equal(changes[3], 'r1@10.0.0.1:10262 r2@10.0.0.2:10262', 'a deleted slice takes its replicas; r2 turning ready changes nothing');
    t.equal(text(membership.replicas), changes[3]);
    t.equal(changes.length, 4, 'no event for the other Service or for readiness');
  });

  t.test('this replica is in the set before its endpoint appears, with its own address', async (t) => {
    const { server, log, membership, changes } = await started(t);
    t.equal(text(membership.replicas), 'r1@10.0.0.1:10262', 'before start');
    membership.start();
    t.teardown(() => membership.stop());
    await waitFor(() => membership.synced, 'synced');
    t.equal(text(membership.replicas), 'r1@10.0.0.1:10262');
    t.same(changes, [], 'no slice, no change');

    server.store.put('endpointslices', slice('svc-a', 10262, [{ id: 'r2', ip: '10.0.0.2', ready: false }]));
    await waitFor(() => changes.length === 1, 'r2');
    t.equal(changes[0], 'r1@10.0.0.1:10262 r2@10.0.0.2:10262');

    // self's endpoint at another address: self keeps its own, and an operator is told why agents see both
    server.store.put(
      'endpointslices',
      slice('svc-a', 10262, [
        { id: 'r1', ip: '10.9.9.9' },
        { id: 'r2', ip: '10.0.0.2', ready: false },
      ]),
    );
    await waitFor(() => log.lines.some((l) => l.level === 'warn' && /advertised address/.test(l.msg)), 'address warning');
    t.equal(text(membership.replicas), 'r1@10.0.0.1:10262 r2@10.0.0.2:10262');
    t.match(log.lines.find((l) => /advertised address/.test(l.msg))!.obj, { advertiseAddr: '10.0.0.1:10262', endpointAddr: '10.9.9.9:10262' });

    // a Service port renamed: the slice cannot be used, and the log says which one
    server.store.put('endpointslices', slice('svc-c', 10262, [{ id: 'r5', ip: '10.0.0.5' }], { portName: 'tunnel' }));
    await waitFor(() => log.lines.some((l) => l.level === 'warn' && /lack the agent port/.test(l.msg)), 'port warning');
    t.match(log.lines.find((l) => /lack the agent port/.test(l.msg))!.obj, { slices: ['svc-c'], port: 'agent' });
    t.equal(changes.length, 1, 'r5 is not a replica');
    t.equal(log.lines.filter((l) => /lack the agent port/.test(l.msg)).length, 1, 'warned once');
  });

  t.test('recovers after dropped watches and 410 Gone, with what changed meanwhile', async (t) => {
    const { server, membership, changes } = await started(t);
    server.store.put('endpointslices', slice('svc-a', 10262, [{ id: 'r2', ip: '10.0.0.2' }]));
    membership.start();
    t.teardown(() => membership.stop());
    await waitFor(() => changes.length === 1, 'r2');
    await waitFor(() => server.requests.some((r) => r.query.watch === 'true' && r.path.endsWith('/endpointslices')), 'watch open');
    t.ok(
      server.requests.some((r) => r.query.labelSelector === `${ReplicaEndpoints.SERVICE_LABEL}=${ReplicaEndpoints.DEFAULT_SERVICE}`),
      "the watch selects the Service's slices",
    );

    server.dropWatches();
    server.store.put('endpointslices', slice('svc-b', 10262, [{ id: 'r3', ip: '10.0.0.3', ready: false }]));
    await waitFor(() => changes.at(-1) === 'r1@10.0.0.1:10262 r2@10.0.0.2:10262 r3@10.0.0.3:10262', 'r3 after the drop');

    // history forgotten while the watch is down: the resumed watch gets 410 and the membership relists
    server.dropWatches();
    server.store.delete('endpointslices', NS, 'svc-a');
    server.compact();
    await waitFor(() => changes.at(-1) === 'r1@10.0.0.1:10262 r3@10.0.0.3:10262', 'r2 gone after the relist');
    t.ok(membership.restarts >= 2, `restarts ${membership.restarts}`);
  });
});

t.test('replicasOf', async (t) => {
  const ids = (slices: V1EndpointSlice[], port = 'agent'): string => text(replicasOf(slices, port).replicas);

  t.equal(ids([slice('a', 1, [{ id: 'p', ip: 'fd00::1' }], { addressType: 'IPv6' })]), 'p@[fd00::1]:1', 'IPv6 in brackets');
  t.equal(
    ids([slice('z6', 1, [{ id: 'p', ip: 'fd00::1' }], { addressType: 'IPv6' }), slice('a4', 1, [{ id: 'p', ip: '10.0.0.1' }])]),
    'p@10.0.0.1:1',
    'dual stack: one replica, from the IPv4 slice',
  );
  t.equal(
    ids([slice('b', 2, [{ id: 'p', ip: '10.0.0.2' }]), slice('a', 1, [{ id: 'p', ip: '10.0.0.1', terminating: true }])]),
    'p@10.0.0.2:2',
    'a pod terminating in one slice and not in another counts once, at the live entry',
  );
  t.equal(ids([slice('a', 1, [{ ip: '10.0.0.1' }, { id: 'p' }, { id: 'q', ip: '10.0.0.3' }])]), 'q@10.0.0.3:1', 'no targetRef or no address: skipped');
  t.same(replicasOf([slice('a', 1, [{ id: 'p', ip: '10.0.0.1' }], { portName: 'meta' }), slice('e', 1, [], { portName: 'meta' })], 'agent'), {
    replicas: [],
    portless: ['a'],
  });
  t.equal(ids([slice('a', 7, [{ id: 'p', ip: '10.0.0.1' }], { portName: '' })], ''), 'p@10.0.0.1:7', 'a Service with one unnamed port');
});
