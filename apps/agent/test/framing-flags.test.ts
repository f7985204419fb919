// The agent's framing limits as flags: parsed with their ranges, and taking effect on its session
// with a server (SETTINGS as the server sees them, GOAWAY FLOOD at the configured rate).
import t from 'tap';
import { SESSION_DEFAULTS, type GoAwayInfo } from '@edge-tunnel/framing';
import { helpText, parseConfig } from '../src/config.js';
import { waitFor } from './fixtures/agent.js';
import { connected } from './fixtures/harness.js';

const base = ['--server', 'tunnel.example.com:443', '--node-name', 'edge-1', '--node-ip', '10.0.0.5', '--cert', '/c', '--key', '/k', '--ca', '/ca'];
const config = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseConfig([...base, ...argv], env);
  if (r.help) throw new Error('unexpected help');
  return r.config;
};

t.test('defaults are the framing defaults; flags and env set them', async (t) => {
  t.match(config([]), {
    receiveBudget: SESSION_DEFAULTS.receiveBudget,
    initialWindow: SESSION_DEFAULTS.initialWindow,
    maxWindow: SESSION_DEFAULTS.maxWindow,
    maxControlPerSecond: SESSION_DEFAULTS.maxControlPerSecond,
  });
  t.match(config(['--receive-budget', '4194304', '--initial-window=4096', '--max-window', '65536', '--max-control-per-second', '50']), {
    receiveBudget: 4_194_304,
    initialWindow: 4096,
    maxWindow: 65_536,
    maxControlPerSecond: 50,
  });
  t.match(config([], { EDGE_TUNNEL_MAX_CONTROL_PER_SECOND: '7', EDGE_TUNNEL_RECEIVE_BUDGET: '4194304' }), { maxControlPerSecond: 7, receiveBudget: 4_194_304 });
  t.match(
    helpText(),
    /--receive-budget <value>\s+bytes one session buffers .*\(1024–1099511627776\) \(default 268435456\)\n\s+env EDGE_TUNNEL_RECEIVE_BUDGET\n/,
  );
  t.match(helpText(), /--max-control-per-second <value>\s+.*\(1–1000000\) \(default 1000\)\n\s+env EDGE_TUNNEL_MAX_CONTROL_PER_SECOND\n/);
});

t.test('a bad value is refused naming the flag and its range', async (t) => {
  const cases: Array<[string[], string, RegExp]> = [
    [
      ['--initial-window', '1023'],
      '--initial-window',
      /^--initial-window \(env EDGE_TUNNEL_INITIAL_WINDOW\) must be a whole number from 1024 to 2147483647, got "1023"$/,
    ],
    [
      ['--receive-budget', '1e9'],
      '--receive-budget',
      /^--receive-budget \(env EDGE_TUNNEL_RECEIVE_BUDGET\) must be a whole number from 1024 to 1099511627776, got "1e9"$/,
    ],
    [['--max-control-per-second', '0'], '--max-control-per-second', /from 1 to 1000000, got "0"$/],
    [['--initial-window', '65536', '--max-window', '32768'], '--max-window', /^--max-window \(32768\) must be at least --initial-window \(65536\)$/],
    [['--receive-budget', '4096', '--initial-window', '8192'], '--receive-budget', /^--receive-budget \(4096\) must be at least --initial-window \(8192\)$/],
    [
      ['--receive-budget', '1048576', '--max-streams', '257'],
      '--max-streams',
      /^--max-streams \(257\) must be at most 256: --receive-budget \(1048576\) ÷ the smallest stream window \(4096\)$/,
    ],
  ];
  for (const [argv, flag, message] of cases) {
    t.throws(() => config(argv), { name: 'ConfigError', code: 'ERR_AGENT_CONFIG', flag, message }, argv.join(' '));
  }
});

t.test('the session announces --initial-window, shared by --max-streams within --receive-budget', async (t) => {
  const full = await connected(t, { config: { initialWindow: 8192 } });
  t.equal(full.session.peer?.initialWindow, 8192, '--initial-window in the SETTINGS the server received');
  const shared = await connected(t, { config: { initialWindow: 8192, receiveBudget: 16_384, maxWindow: 16_384, maxStreams: 4 } });
  t.equal(shared.session.peer?.initialWindow, 4096, '4 streams in a 16 KiB budget: 4 KiB windows');
  t.equal(shared.session.peer?.maxStreams, 4);
});

t.test('--max-control-per-second: PINGs under the limit are answered, over it the agent sends GOAWAY FLOOD', async (t) => {
  const { session } = await connected(t, { config: { maxControlPerSecond: 40 } });
  const goaways: GoAwayInfo[] = [];
  session.on('goaway', (g: GoAwayInfo) => goaways.push(g));
  session.on('error', () => {});
  await Promise.all(Array.from({ length: 20 }, () => session.ping()));
  t.same(goaways, [], '20 PINGs answered, no GOAWAY');
  const flood = Array.from({ length: 40 }, () => session.ping().catch(() => 'closed'));
  await waitFor(() => goaways.length > 0, 3000, 'GOAWAY from the agent');
  t.match(goaways[0], { code: 'FLOOD', reason: /more than 40 control frames per second/ });
  t.ok((await Promise.all(flood)).includes('closed'), 'the flooding session was closed');
});
