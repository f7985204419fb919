import t from 'tap';
import { DnatErrorCode, NodeTable } from '../src/index.js';

interface Session {
  id: string;
}
const s = (id: string): Session => ({ id });

t.test('upsert, get, byIp, nodes, remove', async (t) => {
  const table = new NodeTable<Session>();
  const info = table.upsertNode('Edge-1', ['10.0.0.5', '[FD00::5]', '10.0.0.5']);
  t.strictSame(info, { name: 'edge-1', ips: ['10.0.0.5', 'fd00::5'], contested: [], session: undefined }, 'canonical, de-duplicated');
  t.equal(table.get('EDGE-1')?.name, 'edge-1', 'names are case-insensitive');
  t.equal(table.byIp('fd00:0::5')?.name, 'edge-1', 'any IPv6 spelling');
  t.equal(table.byIp('[fd00::5]')?.name, 'edge-1');
  t.equal(table.byIp('10.0.0.6'), undefined);
  t.equal(table.byIp('garbage'), undefined, 'bad lookups find nothing');
  t.equal(table.get('bad_name'), undefined);
  table.upsertNode('edge-0', []);
  t.strictSame(
    table.nodes().map((n) => n.name),
    ['edge-0', 'edge-1'],
    'sorted snapshot',
  );
  t.equal(table.size, 2);
  table.upsertNode('edge-1', ['10.0.0.7']);
  t.equal(table.byIp('10.0.0.5'), undefined, 'replaced IPs are forgotten');
  t.equal(table.byIp('10.0.0.7')?.name, 'edge-1');
  t.equal(table.removeNode('EDGE-1'), true);
  t.equal(table.removeNode('edge-1'), false, 'already gone');
  t.equal(table.removeNode('bad_name'), false);
  t.equal(table.byIp('10.0.0.7'), undefined, 'its IPs go with it');
  t.equal(table.size, 1);
});

t.test('snapshots do not change with the table', async (t) => {
  const table = new NodeTable<Session>();
  table.upsertNode('edge-1', ['10.0.0.5']);
  const before = table.get('edge-1')!;
  const list = table.nodes();
  table.attach('edge-1', s('a'), ['10.0.0.6']);
  t.strictSame(before, { name: 'edge-1', ips: ['10.0.0.5'], contested: [], session: undefined });
  t.equal(list[0]!.session, undefined);
  t.ok(Object.isFrozen(before) && Object.isFrozen(before.ips));
});

t.test('an IP claimed by two nodes belongs to neither until one drops it', async (t) => {
  const table = new NodeTable<Session>();
  table.upsertNode('edge-1', ['10.0.0.5', '10.0.0.6']);
  table.upsertNode('edge-2', ['10.0.0.6']);
  t.equal(table.byIp('10.0.0.6'), undefined, 'the later claim does not win');
  t.strictSame(table.get('edge-1')?.ips, ['10.0.0.5'], 'edge-1 keeps its uncontested IP');
  t.strictSame(table.get('edge-1')?.contested, ['10.0.0.6']);
  t.strictSame(table.get('edge-2')?.ips, [], 'edge-2 gets nothing');
  t.strictSame(table.conflicts(), [{ ip: '10.0.0.6', nodes: ['edge-1', 'edge-2'] }]);
  table.attach('edge-3', s('c'), ['10.0.0.5']);
  t.equal(table.byIp('10.0.0.5'), undefined, 'attach with ips claims too: now contested');
  t.strictSame(
    table.conflicts().map((c) => c.ip),
    ['10.0.0.5', '10.0.0.6'],
  );
  table.removeNode('edge-3');
  t.equal(table.byIp('10.0.0.5')?.name, 'edge-1', 'removing a claimant gives the IP back');
  table.upsertNode('edge-2', ['10.0.0.7']);
  t.equal(table.byIp('10.0.0.6')?.name, 'edge-1', 'dropping the claim gives the IP back');
  t.strictSame(table.conflicts(), []);
  t.strictSame(table.get('edge-1')?.contested, []);
});

t.test('attach / detach ordering', async (t) => {
  const table = new NodeTable<Session>();
  const [a, b] = [s('a'), s('b')];
  t.equal(table.attach('edge-1', a, ['10.0.0.5']), undefined, 'first session replaces nothing');
  t.equal(table.sessionOf('EDGE-1'), a);
  t.equal(table.byIp('10.0.0.5')?.session, a, 'attach creates the node with its ips');
  t.equal(table.attach('edge-1', a), undefined, 're-attaching the same session replaces nothing');
  t.equal(table.attach('edge-1', b), a, 'a new session returns the one it replaces');
  t.strictSame(table.get('edge-1')?.ips, ['10.0.0.5'], 'attach without ips keeps them');
  t.equal(table.detach('edge-1', a), false, 'the old session closing late does not remove the new');
  t.equal(table.sessionOf('edge-1'), b);
  t.equal(table.detach('edge-1', b), true);
  t.equal(table.sessionOf('edge-1'), undefined);
  t.ok(table.get('edge-1'), 'the node stays known after detach');
  t.equal(table.detach('edge-1', b), false, 'detach twice');
  t.equal(table.detach('edge-9', b), false, 'unknown node');
  t.equal(table.detach('bad_name', b), false, 'bad name');
  table.upsertNode('edge-1', ['10.0.0.8']);
  t.equal(table.attach('edge-1', a), undefined);
  t.equal(table.sessionOf('edge-1'), a);
  t.equal(table.upsertNode('edge-1', []).session, a, 'upsert keeps the session');
  t.equal(table.sessionOf('nobody'), undefined);
});

t.test('bad input throws DnatError codes and changes nothing', async (t) => {
  const table = new NodeTable<Session>();
  table.upsertNode('edge-1', ['10.0.0.5']);
  const badNames = ['', 'edge_1', '-x', 'a'.repeat(254), 'edge 1'];
  for (const name of badNames) {
    t.throws(() => table.upsertNode(name, []), { code: DnatErrorCode.INVALID_NODE_NAME, name: 'DnatError' });
    t.throws(() => table.attach(name, s('x')), { code: DnatErrorCode.INVALID_NODE_NAME });
  }
  const badIps = ['10.0.0.256', 'edge-1', '', 'fe80::1%eth0', '[fd00::5'];
  for (const ip of badIps) {
    t.throws(() => table.upsertNode('edge-1', ['10.0.0.6', ip]), { code: DnatErrorCode.INVALID_IP }, ip);
    t.throws(() => table.attach('edge-2', s('x'), [ip]), { code: DnatErrorCode.INVALID_IP }, ip);
  }
  t.throws(() => table.upsertNode('edge-1', '10.0.0.6' as unknown as string[]), { code: DnatErrorCode.INVALID_IP });
  t.throws(() => table.attach('edge-1', undefined as unknown as Session), { code: DnatErrorCode.INVALID_SESSION });
  t.strictSame(table.get('edge-1')?.ips, ['10.0.0.5'], 'failed writes changed nothing');
  t.equal(table.byIp('10.0.0.6'), undefined);
  t.equal(table.get('edge-2'), undefined, 'a failed attach does not create the node');
  t.equal(table.sessionOf('edge-1'), undefined);
});
