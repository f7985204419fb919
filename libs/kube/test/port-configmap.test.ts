// watchPortConfigMap against the fake API server: the ConfigMap absent, created, edited, deleted;
// bad and redundant entries rejected with a log line and a Warning Event; the EventRecorder itself.
import t from 'tap';
import type { FakeApiServer, KubeObject } from '@edge-tunnel/fake-apiserver';
import { EventRecorder } from '../src/events.js';
import { INVALID_PORT_CONFIG_REASON, watchPortConfigMap } from '../src/port-configmap.js';
import type { PortConfigState } from '../src/port-configmap.js';
import { FAST_BACKOFF, recordingLogger, sleep, waitFor, withServer } from './fixtures/harness.js';

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
    t.same(
      w.current().rejected.map((r) => [r.key, r.entry, r.code]),
      [
        ['http-proxy-ports', 'abc', 'INVALID_PORT'],
        ['https-proxy-ports', '10250', 'RESERVED_PORT'],
      ],
    );
    await waitFor(() => warnings(server).length === 2, 'two Events');
    const [first] = warnings(server).filter((e) => String(e.message).includes("'abc'"));
    t.ok(first, 'an Event names the bad entry');
    t.equal(first!.type, 'Warning');
    t.equal(first!.message, w.current().rejected[0]!.reason);
    t.match(first!.involvedObject, { kind: 'ConfigMap', namespace: NS, name: NAME, apiVersion: 'v1' });
    t.match(first!.source, { component: 'edge-tunnel-server' });
    t.equal(first!.count, 1);
    const warns = log.lines.filter((l) => l.level === 'warn' && l.msg === 'port config entry rejected');
    t.same(
      warns.map((l) => l.obj.entry),
      ['abc', '10250'],
    );

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
    t.same(
      w.current().rejected.map((r) => [r.key, r.entry, r.code]),
      [
        ['dnat-ports-pair', '9051=10264', 'DUPLICATE_ENTRY'],
        ['http-proxy-ports', '', 'EMPTY_ENTRY'],
      ],
    );
    await waitFor(() => warnings(server).length === 2, 'two Events');
    t.ok(
      warnings(server).some((e) => /first occurrence/.test(String(e.message))),
      'the Event names the first occurrence',
    );
    t.ok(
      warnings(server).some((e) => /trailing comma/.test(String(e.message))),
      'the Event names the trailing comma',
    );
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
