import t from 'tap';
import { AllowList, normalizeIp } from '../src/allow-list.js';
import { parsePortList } from '../src/ports.js';

const ports = (text: string) => parsePortList(text) as Exclude<ReturnType<typeof parsePortList>, string>;
const list = new AllowList({ nodeName: 'edge-1', nodeIps: ['10.0.0.5', 'fd00::5'], allowPorts: ports('9100-9199,9051'), localhostPorts: ports('10248') });

t.test('kubelet ports and configured ports on node IPs are allowed', async (t) => {
  for (const [host, port] of [['10.0.0.5', 10250], ['10.0.0.5', 10255], ['10.0.0.5', 9100], ['10.0.0.5', 9199], ['10.0.0.5', 9051], ['FD00::5', 10250], ['::ffff:10.0.0.5', 10250]] as const) {
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
