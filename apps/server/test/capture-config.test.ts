// Standalone capture flags: --capture iptables with --edge-node-ip (IPv4 only), the DNAT targets a
// wildcard listener needs, --iptables-resync-ms, and the combinations refused with a sentence.
import t from 'tap';
import { ServerErrorCode, parseConfig } from '../src/index.js';
import type { ServerConfig } from '../src/index.js';

const required = ['--cert', 'c.pem', '--key', 'k.pem', '--agent-ca', 'a.pem', '--caller-ca', 'ca.pem'];
const bound = ['--https-addr', '10.0.0.2:10263', '--http-addr', '10.0.0.2:10264'];

function config(argv: string[], env: Record<string, string> = {}): ServerConfig {
  const r = parseConfig([...required, ...argv], env);
  if (r.help) throw new Error('help');
  return r.config;
}

t.test('standalone iptables capture: repeatable --edge-node-ip, env ;-separated, resync default', async (t) => {
  t.match(config([]), { capture: 'none', edgeNodeIps: [], iptablesResyncMs: 60_000 });
  const c = config([
    ...bound,
    '--capture',
    'iptables',
    '--edge-node-ip',
    '10.0.0.5',
    '--edge-node-ip=10.0.0.6',
    '--edge-node-ip',
    '10.0.0.5',
    '--iptables-resync-ms',
    '500',
  ]);
  t.match(c, { kubernetes: false, capture: 'iptables', iptablesResyncMs: 500 });
  t.same(c.edgeNodeIps, ['10.0.0.5', '10.0.0.6'], 'repeatable, de-duplicated');
  t.same(config([...bound], { EDGE_TUNNEL_CAPTURE: 'iptables', EDGE_TUNNEL_EDGE_NODE_IP: '10.0.0.5; 10.0.0.7' }).edgeNodeIps, ['10.0.0.5', '10.0.0.7']);
  t.same(config(['--capture', 'iptables'], { POD_IP: '10.0.0.9' }).edgeNodeIps, [], 'wildcard listeners with an IPv4 $POD_IP; agents alone feed the capture');
});

t.test('bad standalone capture flags are refused with a sentence naming the flag', async (t) => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [
      [...bound, '--capture', 'iptables', '--edge-node-ip', 'fd00::5'],
      {},
      /--edge-node-ip .* must be IPv4 addresses \(IPv6 cannot be captured\), got "fd00::5"/,
    ],
    [[...bound, '--capture', 'iptables', '--edge-node-ip', 'edge-1'], {}, /--edge-node-ip .* must be IPv4 addresses/],
    [[...bound, '--edge-node-ip', '10.0.0.5'], {}, /--edge-node-ip needs --capture=iptables/],
    [['--capture', 'dns'], {}, /--capture=dns needs cluster mode \(--kubernetes or --kubeconfig\).*standalone, use --capture=iptables/],
    [['--capture', 'iptables'], {}, /--https-addr :10263 listens on every address, so the DNAT target is unknown; set --iptables-https-target .*, or \$POD_IP/],
    [
      ['--capture', 'iptables', '--https-addr', '10.0.0.2:10263'],
      { POD_IP: 'fd00::9' },
      /--http-addr :10264 listens on every address.*\$POD_IP fd00::9 is not IPv4/,
    ],
    [[...bound, '--capture', 'iptables', '--iptables-resync-ms', '0'], {}, /--iptables-resync-ms .* whole number of milliseconds ≥ 1/],
  ];
  for (const [argv, env, message] of cases) {
    t.throws(() => parseConfig([...required, ...argv], env), { code: ServerErrorCode.INVALID_CONFIG, message }, argv.join(' '));
  }
  t.match(
    config(['--capture', 'iptables', '--iptables-https-target', '10.0.0.1:1', '--iptables-http-target', '10.0.0.1:2']),
    { capture: 'iptables' },
    'wildcard listeners with both targets given',
  );
});
