// watchEdgeNodes against the fake API server: InternalIPs, nodes added, re-addressed, relabelled and
// removed, a node matching both selectors, custom selectors, recovery after dropped watches.
import t from 'tap';
import { DEFAULT_EDGE_SELECTORS, internalIps, watchEdgeNodes } from '../src/edge-nodes.js';
import type { EdgeNode } from '../src/edge-nodes.js';
import { EDGE, FAST_BACKOFF, YURT, node, waitFor, withServer } from './fixtures/harness.js';

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
    t.same(changes.at(-1), [
      { name: 'edge-1', ips: ['10.0.0.1'] },
      { name: 'edge-2', ips: ['10.0.0.2', 'fd00::2'] },
    ]);

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
