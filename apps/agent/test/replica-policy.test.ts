// The replica list a server sends is capped and every address must be the --server host or inside
// --replica-cidrs (replica-policy.ts); unset, the private ranges on the --server port.
import t from 'tap';
import { MAX_REPLICAS, PRIVATE_RANGES, admitReplicas } from '../src/replica-policy.js';
import { parseCidr } from '../src/cidr.js';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const policy = { serverHost: 'lb.example', serverPort: 10262, cidrs: ['10.20.0.0/16', 'fd00::/8'] };

t.test('the --server host and IPs inside --replica-cidrs are kept, in order', async (t) => {
  const r = admitReplicas(
    [
      { id: 'a', addr: 'lb.example:10262' },
      { id: 'b', addr: '10.20.3.4:10262' },
      { id: 'c', addr: '[fd00::5]:10262' },
      { id: 'd', addr: 'LB.example:7' },
    ],
    policy,
  );
  t.same(
    r.replicas.map((x) => x.id),
    ['a', 'b', 'c', 'd'],
  );
  t.same(r.refused, []);
});

t.test('other IPs, other names and loopback are refused with the reason', async (t) => {
  const r = admitReplicas(
    [
      { id: 'a', addr: '10.21.0.1:10262' },
      { id: 'b', addr: 'evil.example:10262' },
      { id: 'c', addr: '127.0.0.1:22' },
      { id: 'd', addr: '[fe80::1]:1' },
    ],
    policy,
  );
  t.same(r.replicas, []);
  t.same(
    r.refused.map((x) => x.addr),
    ['10.21.0.1:10262', 'evil.example:10262', '127.0.0.1:22', '[fe80::1]:1'],
  );
  t.match(r.refused[0]!.reason, /outside --replica-cidrs/);
  t.match(r.refused[1]!.reason, /host name other than the --server host/);
});

t.test('unset --replica-cidrs: private addresses on the --server port (the pod IPs of k8s/base), nothing else', async (t) => {
  const unset = { serverHost: 'tunnel.example.com', serverPort: 10262, cidrs: [] };
  const ok = ['10.244.1.5:10262', '172.20.0.9:10262', '192.168.7.1:10262', '100.64.3.2:10262', '[fd12::3]:10262', 'tunnel.example.com:443'];
  const bad = {
    '203.0.113.7:10262': /outside --replica-cidrs \(--server host tunnel.example.com, --replica-cidrs unset: private ranges .* on port 10262\)/,
    '8.8.8.8:10262': /outside --replica-cidrs/,
    '127.0.0.1:10262': /outside --replica-cidrs/,
    '169.254.169.254:10262': /outside --replica-cidrs/,
    '[::1]:10262': /outside --replica-cidrs/,
    '[fe80::1]:10262': /outside --replica-cidrs/,
    '[2001:db8::1]:10262': /outside --replica-cidrs/,
    '0.0.0.0:10262': /outside --replica-cidrs/,
    '224.0.0.1:10262': /outside --replica-cidrs/,
    '172.32.0.1:10262': /outside --replica-cidrs/,
    '10.244.1.5:22': /a port other than the --server port 10262/,
    '192.168.1.1:10250': /a port other than the --server port/,
    'pod-1.example:10262': /host name other than the --server host/,
  };
  const r = admitReplicas(
    [...ok, ...Object.keys(bad)].map((addr, i) => ({ id: `r${i}`, addr })),
    unset,
  );
  t.same(
    r.replicas.map((x) => x.addr),
    ok,
  );
  t.same(
    r.refused.map((x) => x.addr),
    Object.keys(bad),
  );
  for (const { addr, reason } of r.refused) t.match(reason, bad[addr as keyof typeof bad], addr);
  t.same(PRIVATE_RANGES, ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7']);
  const given = admitReplicas(
    [
      { id: 'a', addr: '10.20.0.1:7000' },
      { id: 'b', addr: '10.21.0.1:10262' },
    ],
    policy,
  );
  t.same(
    given.replicas.map((x) => x.id),
    ['a'],
    'given CIDRs: exactly those, any port; the private default no longer applies',
  );
  const none = admitReplicas(
    [
      { id: 'a', addr: '10.20.0.1:10262' },
      { id: 'b', addr: 'lb.example:10262' },
    ],
    { ...policy, cidrs: ['none'] },
  );
  t.same(
    none.replicas.map((x) => x.id),
    ['b'],
    '--replica-cidrs none: the --server host only',
  );
  t.match(none.refused[0]!.reason, /outside --replica-cidrs \(--server host lb.example, --replica-cidrs none\)/);
});

t.test(`at most ${MAX_REPLICAS} replicas are kept`, async (t) => {
  const many = Array.from({ length: 200 }, (_, i) => ({ id: `r${i}`, addr: `10.20.${i >> 8}.${i & 255}:10262` }));
  const r = admitReplicas(many, policy);
  t.equal(r.replicas.length, MAX_REPLICAS);
  t.equal(r.refused.length, 200 - MAX_REPLICAS);
  t.match(r.refused[0]!.reason, /more than 16 replicas/);
});

t.test('parseCidr and --replica-cidrs reject what is not a CIDR', async (t) => {
  t.same(parseCidr('10.0.0.0/8'), { net: '10.0.0.0', prefix: 8, family: 'ipv4' });
  t.throws(() => parseCidr('10.0.0.0/33'), /not a CIDR/);
  t.throws(() => parseCidr('example/8'), /not a CIDR/);
  const base = ['--server', 'lb:10262', '--node-name', 'n', '--node-ip', '10.0.0.1', '--cert', 'c', '--key', 'k', '--ca', 'ca'];
  const ok = parseConfig([...base, '--replica-cidrs', '10.20.0.0/16,fd00::/8', '--replica-cidrs', '192.168.0.0/24']);
  t.same(!ok.help && ok.config.replicaCidrs, ['10.20.0.0/16', 'fd00::/8', '192.168.0.0/24']);
  let thrown: unknown;
  try {
    parseConfig([...base, '--replica-cidrs', '10.0.0.1']);
  } catch (err) {
    thrown = err;
  }
  t.ok(thrown instanceof ConfigError && thrown.flag === '--replica-cidrs', 'a bare IP is refused, naming --replica-cidrs');
  const unset = parseConfig(base);
  t.same(!unset.help && unset.config.replicaCidrs, [], 'unset: the private ranges on the --server port');
  const none = parseConfig([...base, '--replica-cidrs', 'none']);
  t.same(!none.help && none.config.replicaCidrs, ['none']);
  t.throws(() => parseConfig([...base, '--replica-cidrs', 'none;10.0.0.0/8']), /--replica-cidrs none admits the --server host only: it cannot be combined/);
});
