// The replica list a server sends is capped and every address must be the --server host or inside
// --replica-cidrs (replica-policy.ts).
import t from 'tap';
import { MAX_REPLICAS, admitReplicas } from '../src/replica-policy.js';
import { parseCidr } from '../src/cidr.js';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const policy = { serverHost: 'lb.example', cidrs: ['10.20.0.0/16', 'fd00::/8'] };

t.test('the --server host and IPs inside --replica-cidrs are kept, in order', async (t) => {
  const r = admitReplicas([
    { id: 'a', addr: 'lb.example:10262' }, { id: 'b', addr: '10.20.3.4:10262' }, { id: 'c', addr: '[fd00::5]:10262' }, { id: 'd', addr: 'LB.example:7' },
  ], policy);
  t.same(r.replicas.map((x) => x.id), ['a', 'b', 'c', 'd']);
  t.same(r.refused, []);
});

t.test('other IPs, other names and loopback are refused with the reason', async (t) => {
  const r = admitReplicas([
    { id: 'a', addr: '10.21.0.1:10262' }, { id: 'b', addr: 'evil.example:10262' }, { id: 'c', addr: '127.0.0.1:22' }, { id: 'd', addr: '[fe80::1]:1' },
  ], policy);
  t.same(r.replicas, []);
  t.same(r.refused.map((x) => x.addr), ['10.21.0.1:10262', 'evil.example:10262', '127.0.0.1:22', '[fe80::1]:1']);
  t.match(r.refused[0]!.reason, /outside --replica-cidrs/);
  t.match(r.refused[1]!.reason, /host name other than the --server host/);
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
  try { parseConfig([...base, '--replica-cidrs', '10.0.0.1']); } catch (err) { thrown = err; }
  t.ok(thrown instanceof ConfigError && thrown.flag === '--replica-cidrs', 'a bare IP is refused, naming --replica-cidrs');
  const none = parseConfig(base);
  t.same(!none.help && none.config.replicaCidrs, []);
});
