// The framing limits of agent sessions as flags: parsed with their ranges, and each one taking
// effect on a real session (SETTINGS on the wire, budget refusals, FLOOD, resolved options).
import t from 'tap';
import { FrameType, SESSION_DEFAULTS, Setting } from '@edge-tunnel/framing';
import { ServerErrorCode, parseConfig, usage } from '../src/index.js';
import type { ServerConfig } from '../src/index.js';
import { send, startServer, waitFor } from './fixtures/harness.js';
import { helloFrame, openFrame, pingFrame, rawAgent } from './fixtures/raw-agent.js';
import type { RawAgent, RawFrame } from './fixtures/raw-agent.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
t.setTimeout(30_000);
const required = ['--cert', 'c.pem', '--key', 'k.pem', '--agent-ca', 'a.pem', '--caller-ca', 'ca.pem'];

function config(argv: string[], env: Record<string, string> = {}): ServerConfig {
  const r = parseConfig([...required, ...argv], env);
  if (r.help) throw new Error('help');
  return r.config;
}

t.test('defaults are the framing defaults; flags and env set them', async (t) => {
  t.match(config([]), {
    receiveBudget: SESSION_DEFAULTS.receiveBudget,
    initialWindow: SESSION_DEFAULTS.initialWindow,
    maxWindow: SESSION_DEFAULTS.maxWindow,
    maxControlPerSecond: SESSION_DEFAULTS.maxControlPerSecond,
    maxAgentHandshakes: 256,
  });
  t.match(
    config(['--receive-budget', '1048576', '--initial-window=4096', '--max-window', '65536', '--max-control-per-second', '50', '--max-agent-handshakes', '8']),
    {
      receiveBudget: 1_048_576,
      initialWindow: 4096,
      maxWindow: 65_536,
      maxControlPerSecond: 50,
      maxAgentHandshakes: 8,
    },
  );
  t.match(config([], { EDGE_TUNNEL_INITIAL_WINDOW: '8192', EDGE_TUNNEL_MAX_AGENT_HANDSHAKES: '2' }), { initialWindow: 8192, maxAgentHandshakes: 2 });
  t.match(usage(), /--receive-budget <value>\s+agent sessions: .*\(1024–1099511627776\) \(default 268435456\)\n\s+env EDGE_TUNNEL_RECEIVE_BUDGET/);
  t.match(usage(), /--max-agent-handshakes <value>\s+agent port: TLS handshakes in flight.* \(default 256\)/);
});

t.test('a bad value is refused with the flag and its range', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--initial-window', '1023'], /^--initial-window \(env EDGE_TUNNEL_INITIAL_WINDOW\) must be a whole number from 1024 to 2147483647, got "1023"$/],
    [['--max-window', '2147483648'], /^--max-window .* from 1024 to 2147483647, got "2147483648"$/],
    [['--receive-budget', '64k'], /^--receive-budget .* from 1024 to 1099511627776, got "64k"$/],
    [['--max-control-per-second', '0'], /^--max-control-per-second .* from 1 to 1000000, got "0"$/],
    [['--max-agent-handshakes', '0'], /^--max-agent-handshakes .* must be a whole number ≥ 1, got "0"$/],
    [['--initial-window', '65536', '--max-window', '32768'], /^--max-window \(32768\) must be at least --initial-window \(65536\)$/],
    [['--initial-window', '65536', '--receive-budget', '32768'], /^--receive-budget \(32768\) must be at least --initial-window \(65536\)$/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => config(argv), { code: ServerErrorCode.INVALID_CONFIG, message }, argv.join(' '));
  }
});

/** The values of the server's first SETTINGS frame, by setting id. */
function settingsOf(frames: RawFrame[]): Map<number, number> {
  const p = frames.find((f) => f.type === FrameType.SETTINGS && (f.flags & 1) === 0)!.payload;
  const values = new Map<number, number>();
  for (let i = 0, n = p.readUInt16BE(0); i < n; i++) values.set(p.readUInt16BE(2 + i * 6), p.readUInt32BE(4 + i * 6));
  return values;
}

t.test('each limit takes effect on an agent session', async (t) => {
  const server = await startServer(t, pki, [
    '--initial-window',
    '8192',
    '--max-window',
    '16384',
    '--receive-budget',
    '8192',
    '--max-control-per-second',
    '40',
    '--open-timeout-ms',
    '500',
  ]);
  const attach = async (node: string, ip: string): Promise<RawAgent> => {
    const cert = await pki.agent(node, [ip]);
    const agent = await rawAgent(server.addr.agent, { cert: cert.certPem, key: cert.keyPem, ca: pki.agentCa.certPem });
    t.teardown(() => void agent.socket.destroy());
    agent.send(helloFrame(node, [ip]));
    await waitFor(() => server.handle.registry.get(node) !== undefined, 3000, `${node} attached`);
    await waitFor(() => agent.frames.some((f) => f.type === FrameType.SETTINGS), 3000, 'server SETTINGS');
    return agent;
  };
  const mute = await attach('edge-w', '127.0.20.31');

  t.equal(settingsOf(mute.frames).get(Setting.INITIAL_WINDOW), 8192, '--initial-window is what the server announces in SETTINGS');
  t.match(
    server.handle.registry.get('edge-w')!.session.opts,
    { initialWindow: 8192, maxWindow: 16_384, receiveBudget: 8192, maxControlPerSecond: 40, openTimeoutMs: 500 },
    'the session runs with every flag',
  );

  // a request makes the server open a stream to the mute agent: its window takes the whole budget
  const reply = send(server.addr.http, { path: '/pods', headers: { host: '127.0.20.31:10255' } });
  await waitFor(() => mute.frames.some((f) => f.type === FrameType.OPEN), 3000, 'OPEN to the mute agent');
  mute.send(openFrame(1));
  await waitFor(() => mute.resets().has(1), 3000, 'RESET of the agent-opened stream');
  t.same(mute.resets().get(1), { code: 'REFUSED', reason: 'receive budget of 8192 bytes exhausted' }, '--receive-budget: no room for another window');
  const r = await reply;
  t.equal(r.headers['x-tunnel-error'], 'TIMEOUT', '--open-timeout-ms: the unanswered OPEN fails with TIMEOUT');
  t.equal(r.status, 504);

  const calm = await attach('edge-x', '127.0.20.32');
  calm.send(...Array.from({ length: 30 }, (_, i) => pingFrame(i)));
  await waitFor(() => calm.frames.filter((f) => f.type === FrameType.PING && (f.flags & 1) === 1).length >= 30, 3000, '30 PING ACKs');
  t.equal(calm.goAway(), undefined, '30 PINGs in a second stay under --max-control-per-second 40');
  const flooder = await attach('edge-y', '127.0.20.33');
  flooder.send(...Array.from({ length: 50 }, (_, i) => pingFrame(i)));
  await flooder.closed;
  t.match(flooder.goAway(), { code: 'FLOOD', reason: /more than 40 control frames per second/ }, '50 PINGs: GOAWAY FLOOD at 40 per second (default 1 000)');
});
