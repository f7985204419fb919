import t from 'tap';
import { AllowList, normalizeIp } from '../src/allow-list.js';
import { PortSet } from '@edge-tunnel/dnat';
import { parsePortList } from '../src/ports.js';

const ports = (text: string) => parsePortList(text) as Exclude<ReturnType<typeof parsePortList>, string>;
const list = new AllowList({ nodeName: 'edge-1', nodeIps: ['10.0.0.5', 'fd00::5'], allowPorts: ports('9100-9199,9051'), localhostPorts: ports('10248') });

t.test('kubelet ports and configured ports on node IPs are allowed', async (t) => {
  for (const [host, port] of [
    ['10.0.0.5', 10250],
    ['10.0.0.5', 10255],
    ['10.0.0.5', 9100],
    ['10.0.0.5', 9199],
    ['10.0.0.5', 9051],
    ['FD00::5', 10250],
    ['::ffff:10.0.0.5', 10250],
  ] as const) {
    t.same(list.check(host, port), { allowed: true }, `${host}:${port}`);
  }
});

t.test('localhost ports only on 127.0.0.1', async (t) => {
  t.same(list.check('127.0.0.1', 10248), { allowed: true });
  t.equal(list.check('10.0.0.5', 10248).allowed, false, 'a localhost port is not a node port');
  const v = list.check('127.0.0.1', 10250);
  t.equal(v.allowed, false, 'kubelet port is not implicitly a localhost port');
  t.match(!v.allowed && v.reason, /127\.0\.0\.1:10250 is not allowed by edge-tunnel-agent on edge-1: port 10250 is not an allowed localhost port/);
});

t.test('refusal reasons name the target, the node, why, and what is allowed', async (t) => {
  const foreign = list.check('10.0.0.6', 10250);
  t.equal(foreign.allowed, false);
  t.equal(
    !foreign.allowed && foreign.reason,
    '10.0.0.6:10250 is not allowed by edge-tunnel-agent on edge-1: host 10.0.0.6 is not an address of this node (allowed: 10.0.0.5,fd00::5 ports 10250,10255,9100-9199,9051; 127.0.0.1 ports 10248)',
  );
  const port = list.check('10.0.0.5', 22);
  t.match(!port.allowed && port.reason, /port 22 is not an allowed node port/);
  t.match(list.check('kubelet.local', 10250), { allowed: false, reason: /is not an IP address/ });
  t.match(list.check('10.0.0.5', 0), { allowed: false, reason: /not a valid port/ });
  t.match(list.check('10.0.0.5', 9200), { allowed: false }, 'one past the range');
  t.match(list.check('10.0.0.5', 9099), { allowed: false }, 'one before the range');
});

t.test('without extra ports only the kubelet ports are allowed', async (t) => {
  const bare = new AllowList({ nodeName: 'n', nodeIps: ['192.168.1.9'], allowPorts: [], localhostPorts: [] });
  t.equal(bare.describe(), '192.168.1.9 ports 10250,10255');
  t.equal(bare.check('127.0.0.1', 10248).allowed, false);
  t.equal(bare.check('192.168.1.9', 10255).allowed, true);
});

t.test('normalizeIp', async (t) => {
  t.equal(normalizeIp('::FFFF:1.2.3.4'), '1.2.3.4');
  t.equal(normalizeIp(' FE80::1 '), 'fe80::1');
});

// ---- following the server's port config, within the ceilings ----

const serverPorts = (node: string, localhost = '', rev = 1) => ({ rev, node: PortSet.parse(node), localhost: PortSet.parse(localhost) });

t.test('no ceiling: node ports follow the server, added and removed live', async (t) => {
  const a = new AllowList({ nodeName: 'edge-1', nodeIps: ['10.0.0.5'], localhostPorts: [] });
  t.match(
    a.check('10.0.0.5', 9053),
    { allowed: false, reason: /port 9053 is not an allowed node port/ },
    'before any port config: kubelet ports only, as before',
  );
  t.equal(a.check('10.0.0.5', 10250).allowed, true);
  const f = a.follow(serverPorts('9051-9053'));
  t.equal(f.refused.node.size, 0, 'nothing refused without a ceiling');
  t.equal(a.check('10.0.0.5', 9053).allowed, true, 'a port added to the server config is allowed');
  t.equal(a.describe(), '10.0.0.5 ports 10250,10255,9051-9053');
  a.follow(serverPorts('9051-9052', '', 2));
  t.match(a.check('10.0.0.5', 9053), { allowed: false, reason: /port 9053 is not a node port in the server's port config \(rev 2\)/ }, 'removed: refused');
  t.equal(a.check('10.0.0.5', 10255).allowed, true, 'kubelet ports stay allowed whatever the config');
  a.follow(serverPorts(''));
  t.equal(a.check('10.0.0.5', 10250).allowed, true, 'even with an empty config');
});

t.test('a ceiling caps what the server can open, and names what to fix', async (t) => {
  const a = new AllowList({ nodeName: 'edge-1', nodeIps: ['10.0.0.5'], allowPorts: ports('9051-9052'), localhostPorts: [] });
  const f = a.follow(serverPorts('9051-9053,9100'));
  t.equal(f.refused.node.toString(), '9053,9100');
  t.equal(f.allowed.node.toString(), '9051-9052');
  t.equal(a.check('10.0.0.5', 9052).allowed, true);
  const v = a.check('10.0.0.5', 9053);
  t.match(
    !v.allowed && v.reason,
    /port 9053 is in the server's port config but above this agent's --allow-ports ceiling \(9051-9052\): add it to --allow-ports \(EDGE_TUNNEL_ALLOW_PORTS\) on edge-1/,
  );
  a.follow(serverPorts('9100', '', 2));
  t.match(
    a.check('10.0.0.5', 9051),
    { allowed: false, reason: /not a node port in the server's port config/ },
    'the ceiling never opens a port by itself once the server speaks',
  );
  const none = new AllowList({ nodeName: 'n', nodeIps: ['10.0.0.5'], allowPorts: [], localhostPorts: [] });
  none.follow(serverPorts('9051'));
  t.match(none.check('10.0.0.5', 9051), { allowed: false, reason: /above this agent's --allow-ports ceiling \(\)/ }, '--allow-ports none: kubelet only');
});

t.test('localhost ports: only within --localhost-ports (none by default)', async (t) => {
  const a = new AllowList({ nodeName: 'edge-1', nodeIps: ['10.0.0.5'], localhostPorts: [] });
  const f = a.follow(serverPorts('9051', '9400,10248'));
  t.equal(f.refused.localhost.toString(), '9400,10248', 'the default refuses every localhost port');
  t.match(a.check('127.0.0.1', 9400), {
    allowed: false,
    reason: /above this agent's --localhost-ports ceiling \(none\): add it to --localhost-ports \(EDGE_TUNNEL_LOCALHOST_PORTS\)/,
  });
  t.equal(a.check('10.0.0.5', 9400).allowed, false, 'a localhost port is not a node port');
  const b = new AllowList({ nodeName: 'edge-1', nodeIps: ['10.0.0.5'], localhostPorts: ports('10248') });
  b.follow(serverPorts('', '9400,10248'));
  t.equal(b.check('127.0.0.1', 10248).allowed, true);
  t.equal(b.check('127.0.0.1', 9400).allowed, false);
  b.follow(serverPorts('', '9400', 2));
  t.match(
    b.check('127.0.0.1', 10248),
    { allowed: false, reason: /not a localhost port in the server's port config/ },
    'within the ceiling but no longer configured',
  );
  t.equal(b.ceiling.localhost.toString(), '10248');
  t.equal(a.ceiling.node.size, 65_535, 'unset --allow-ports: the ceiling is every port');
});

t.test('a long allowed list is cut in reasons (a RESET reason is at most 1 KiB)', async (t) => {
  const a = new AllowList({ nodeName: 'edge-1', nodeIps: ['10.0.0.5'], localhostPorts: [] });
  a.follow({ rev: 1, node: PortSet.of(Array.from({ length: 5_000 }, (_, i) => 20_000 + 2 * i)), localhost: PortSet.EMPTY });
  const v = a.check('10.0.0.5', 20_001);
  t.ok(!v.allowed && v.reason.length < 600, `reason of ${!v.allowed && v.reason.length} characters`);
});
