import t from 'tap';
import { initialWindowFor, parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const base = ['--server', 'tunnel.example.com:443', '--node-name', 'edge-1', '--node-ip', '10.0.0.5', '--cert', '/c', '--key', '/k', '--ca', '/ca'];
const config = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseConfig(argv, env);
  if (r.help) throw new Error('unexpected help');
  return r.config;
};

t.test('defaults', async (t) => {
  const c = config(base);
  t.match(c, {
    server: { host: 'tunnel.example.com', port: 443 },
    serverName: 'tunnel.example.com',
    nodeName: 'edge-1',
    nodeIps: ['10.0.0.5'],
    certFile: '/c',
    metaAddr: { host: '127.0.0.1', port: 10266 },
    compression: true,
    localhostPorts: [],
    dialTimeoutMs: 5000,
    streamIdleTimeoutMs: 4 * 60 * 60 * 1000,
    keepaliveIntervalMs: 10_000,
    keepaliveTimeoutMs: 30_000,
    backoffBaseMs: 500,
    backoffMaxMs: 30_000,
    reconnectSpreadMs: 8000,
    maxStreams: 1024,
    drainTimeoutMs: 10_000,
    logLevel: 'info',
  });
  t.notOk('allowPorts' in c, "no --allow-ports: no ceiling (the server's port config is followed)");
});

t.test('--allow-ports: unset or blank is no ceiling, "none" the empty one', async (t) => {
  t.notOk('allowPorts' in config(base, { EDGE_TUNNEL_ALLOW_PORTS: '  ' }));
  t.same(config([...base, '--allow-ports', 'none']).allowPorts, []);
  t.same(config(base, { EDGE_TUNNEL_ALLOW_PORTS: '9051,9052' }).allowPorts, [
    { lo: 9051, hi: 9051 },
    { lo: 9052, hi: 9052 },
  ]);
  t.same(config([...base, '--localhost-ports', 'none']).localhostPorts, []);
});

t.test('flags, repeats and --flag=value', async (t) => {
  const c = config([
    ...base,
    '--node-ip=10.0.0.6',
    '--server-name',
    'edge-tunnel-server',
    '--compression',
    'off',
    '--allow-ports',
    '9100-9199,9051',
    '--localhost-ports',
    '10248',
    '--meta-addr',
    '[::1]:9000',
    '--log-level',
    'debug',
  ]);
  t.same(c.nodeIps, ['10.0.0.5', '10.0.0.6']);
  t.equal(c.serverName, 'edge-tunnel-server');
  t.equal(c.compression, false);
  t.same(c.allowPorts, [
    { lo: 9100, hi: 9199 },
    { lo: 9051, hi: 9051 },
  ]);
  t.same(c.localhostPorts, [{ lo: 10248, hi: 10248 }]);
  t.same(c.metaAddr, { host: '::1', port: 9000 });
  t.equal(c.logLevel, 'debug');
});

t.test('env fallbacks; flags win over env', async (t) => {
  const env = {
    EDGE_TUNNEL_SERVER: '10.1.1.1',
    NODE_NAME: 'edge-9',
    NODE_IP: '10.0.0.7, 10.0.0.8',
    EDGE_TUNNEL_CERT: '/ec',
    EDGE_TUNNEL_KEY: '/ek',
    EDGE_TUNNEL_CA: '/eca',
    EDGE_TUNNEL_DIAL_TIMEOUT_MS: '1234',
  };
  const c = config([], env);
  t.match(c, { server: { host: '10.1.1.1', port: 10262 }, nodeName: 'edge-9', nodeIps: ['10.0.0.7', '10.0.0.8'], caFile: '/eca', dialTimeoutMs: 1234 });
  const limits = config([], { ...env, EDGE_TUNNEL_MAX_STREAMS: '16', EDGE_TUNNEL_RECONNECT_SPREAD_MS: '0' });
  t.match(limits, { maxStreams: 16, reconnectSpreadMs: 0 });
  t.match(config(['--max-streams', '8', '--reconnect-spread-ms', '2500'], env), { maxStreams: 8, reconnectSpreadMs: 2500 });
  t.equal(config(['--node-name', 'edge-2'], env).nodeName, 'edge-2');
});

t.test('--help', async (t) => {
  const r = parseConfig(['--help']);
  t.equal(r.help, true);
  t.match(r.help && r.text, /--allow-ports <value>\s+.*\(default no ceiling\)\n\s+env EDGE_TUNNEL_ALLOW_PORTS\n/);
  t.match(r.help && r.text, /--max-streams <value>\s+.*\(default 1024\)\n\s+env EDGE_TUNNEL_MAX_STREAMS\n/);
  t.match(r.help && r.text, /--reconnect-spread-ms <value>\s+.*\(default 8000\)\n\s+env EDGE_TUNNEL_RECONNECT_SPREAD_MS\n/);
});

t.test('bad flags name the flag', async (t) => {
  const cases: Array<[string[], string]> = [
    [['--bogus', 'x'], '--bogus'],
    [base.slice(2), '--server'],
    [[...base, '--server', 'a:b:c'], '--server'],
    [[...base, '--node-ip', 'not-an-ip'], '--node-ip'],
    [[...base, '--node-name', 'Edge_1'], '--node-name'],
    [[...base, '--compression', 'maybe'], '--compression'],
    [[...base, '--allow-ports', '70000'], '--allow-ports'],
    [[...base, '--dial-timeout-ms', '5s'], '--dial-timeout-ms'],
    [[...base, '--stream-idle-timeout-ms', '-5'], '--stream-idle-timeout-ms'],
    [[...base, '--keepalive-timeout-ms', '100', '--keepalive-interval-ms', '200'], '--keepalive-timeout-ms'],
    [[...base, '--backoff-max-ms', '10'], '--backoff-max-ms'],
    [[...base, '--reconnect-spread-ms', '-1'], '--reconnect-spread-ms'],
    [[...base, '--max-streams', '0'], '--max-streams'],
    [[...base, '--max-streams', '65537'], '--max-streams'],
    [[...base, '--log-level', 'loud'], '--log-level'],
    [[...base, '--cert'], '--cert'],
    [[...base, 'stray'], 'stray'],
  ];
  for (const [argv, flag] of cases) {
    let caught: unknown;
    try {
      parseConfig(argv);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, `${flag}: ConfigError`);
    t.match(caught, { code: 'ERR_AGENT_CONFIG', flag, message: new RegExp(flag.replace(/-/g, '\\-')) }, flag);
  }
});

t.test('--max-streams beyond what the budget holds at full windows shares the budget', async (t) => {
  const windowFor = (maxStreams: number, receiveBudget = 256 * 1024 * 1024): number =>
    initialWindowFor({ maxStreams, initialWindow: 256 * 1024, receiveBudget });
  t.equal(windowFor(1024), 256 * 1024, 'the default: full 256 KiB windows');
  t.equal(windowFor(8), 256 * 1024, 'fewer streams never get bigger initial windows');
  t.equal(windowFor(10_000), Math.floor((256 * 1024 * 1024) / 10_000), '10 000 streams: the 256 MiB budget shared');
  t.ok(windowFor(65_536) * 65_536 <= 256 * 1024 * 1024, 'the largest allowed count still fits the budget');
  t.ok(windowFor(65_536) >= 1024, 'and stays above the framing minimum window');
  t.equal(windowFor(64, 1024 * 1024), 16 * 1024, 'a smaller --receive-budget is shared too');
  t.match(config([...base, '--max-streams', '10000']), { maxStreams: 10_000 });
  t.match(config([...base, '--max-streams', '256', '--receive-budget', '1048576']), { maxStreams: 256, receiveBudget: 1_048_576 });
});
