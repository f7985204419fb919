import t from 'tap';
import { EMPTY_PORT_CONFIG, parsePortConfig } from '@edge-tunnel/dnat';
import * as api from '../src/index.js';
import { COMMAND_NOT_FOUND, CaptureErrorCode, IptablesManager } from '../src/index.js';
import type { IptablesManagerOptions } from '../src/index.js';
import { FakeRunner, recordingLogger } from './fixtures/fakes.js';

const HTTPS = { ip: '10.244.0.1', port: 10263 };
const HTTP = { ip: '10.244.0.1', port: 10264 };
const WITH_9100 = parsePortConfig({ 'http-proxy-ports': '9100' }).config;

function setup(over: Partial<IptablesManagerOptions> = {}) {
  const runner = new FakeRunner();
  const logger = recordingLogger();
  const manager = new IptablesManager({ runner, logger, httpsTarget: HTTPS, httpTarget: HTTP, ...over });
  return { runner, logger, manager };
}

const INSTALLED = [
  '*nat',
  ':OUTPUT ACCEPT [0:0]',
  ':PREROUTING ACCEPT [0:0]',
  ':EDGE-TUNNEL-OUTPUT - [0:0]',
  ':EDGE-TUNNEL-PREROUTING - [0:0]',
  ':EDGE-TUNNEL-PORT-10250 - [0:0]',
  ':EDGE-TUNNEL-PORT-10255 - [0:0]',
  ':EDGE-TUNNEL-PORT-9100 - [0:0]',
  '-A OUTPUT -m comment --comment "edge-tunnel: capture OUTPUT" -j EDGE-TUNNEL-OUTPUT',
  '-A PREROUTING -m comment --comment "edge-tunnel: capture PREROUTING" -j EDGE-TUNNEL-PREROUTING',
  'COMMIT',
  '',
].join('\n');

t.test('applies only when the rendering changed', async (t) => {
  const { runner, manager } = setup();
  const first = await manager.update(['10.0.0.5'], EMPTY_PORT_CONFIG);
  t.strictSame(first, { applied: true, changed: true });
  t.strictSame(
    runner.calls.slice(0, 2).map((c) => [c.cmd, ...c.args].join(' ')),
    ['iptables-save -t nat', 'iptables-restore --noflush'],
  );
  t.match(runner.restores()[0], /-d 10\.0\.0\.5\/32 -p tcp --dport 10250 .* --to-destination 10\.244\.0\.1:10263/);
  runner.clear();
  t.strictSame(await manager.update(['10.0.0.5', '10.0.0.5'], EMPTY_PORT_CONFIG), { applied: false, changed: false });
  t.equal(runner.calls.length, 0, 'same rendering: no command at all');
  t.strictSame(await manager.update(['10.0.0.5'], WITH_9100), { applied: true, changed: true }, 'config change applies');
  t.match(runner.restores()[0], /--dport 9100 .* --to-destination 10\.244\.0\.1:10264/);
  const s = manager.status();
  t.equal(s.ok, true);
  t.equal(s.applies, 2);
  t.equal(s.ruleCount, 4 * 2 + 4, '3 ports + the other ports: dispatch in 2 hooks, one DNAT each');
  t.strictSame(s.ports, [9100, 10250, 10255]);
  t.ok(s.lastAppliedAt instanceof Date);
});

t.test('conntrack: flows whose DNAT changed are flushed; conntrack: false skips it', async (t) => {
  const { runner, manager } = setup();
  runner.conntrackList = 'tcp 6 117 TIME_WAIT src=10.244.0.1 dst=10.0.0.5 sport=1 dport=9100 src=x dst=y sport=2 dport=1\n';
  await manager.update(['10.0.0.5'], WITH_9100);
  runner.clear();
  await manager.update(['10.0.0.5'], EMPTY_PORT_CONFIG);
  t.strictSame(
    runner.of('conntrack').map((c) => c.args.join(' ')),
    ['-L -p tcp', '-D -p tcp --orig-dst 10.0.0.5 --orig-port-dst 9100'],
  );
  const off = setup({ conntrack: false });
  await off.manager.update(['10.0.0.5'], WITH_9100);
  t.equal(off.runner.of('conntrack').length, 0);
});

t.test('resync re-applies the same rules and repairs drift', async (t) => {
  const { runner, manager, logger } = setup();
  t.strictSame(await manager.resync(), { applied: false, changed: false }, 'nothing to resync before update');
  await manager.update(['10.0.0.5'], WITH_9100);
  runner.save = INSTALLED.replace(/-A PREROUTING .*\n/, ''); // someone deleted our PREROUTING jump
  runner.clear();
  t.strictSame(await manager.resync(), { applied: true, changed: false });
  const restore = runner.restores()[0] ?? '';
  t.match(restore, /^-I PREROUTING 1 .* -j EDGE-TUNNEL-PREROUTING$/m, 'missing jump re-inserted');
  t.notMatch(restore, /^-I OUTPUT/m, 'present jump left alone');
  t.equal(logger.lines.at(-1)?.level, 'debug', 'an unchanged resync logs at debug');
});

t.test("the timer resyncs, is unref'd, and stop() ends it", async (t) => {
  const { runner, manager } = setup({ resyncIntervalMs: 20 });
  await manager.update(['10.0.0.5'], EMPTY_PORT_CONFIG);
  manager.start();
  manager.start();
  t.equal(manager.status().running, true);
  runner.clear();
  await new Promise((r) => setTimeout(r, 110));
  const resyncs = runner.restores().length;
  t.ok(resyncs >= 2, `resynced ${resyncs} times`);
  runner.respond = (c) => (c.cmd === 'iptables-restore' ? { code: 2, stdout: '', stderr: 'boom' } : undefined);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(manager.status().ok, false, 'a failing resync is recorded, never thrown');
  runner.respond = () => undefined;
  await manager.stop();
  t.equal(manager.status().running, false);
  runner.clear();
  await new Promise((r) => setTimeout(r, 60));
  t.equal(runner.calls.length, 0, 'no resync after stop');
});

t.test('failure keeps the last good rules and reports stderr', async (t) => {
  const { runner, manager, logger } = setup();
  await manager.update(['10.0.0.5'], EMPTY_PORT_CONFIG);
  const good = manager.status();
  runner.respond = (c) => (c.cmd === 'iptables-restore' ? { code: 1, stdout: '', stderr: 'iptables-restore: line 7 failed\n' } : undefined);
  const res = await manager.update(['10.0.0.5', '10.0.0.6'], EMPTY_PORT_CONFIG);
  t.equal(res.applied, false);
  t.equal(res.error?.code, CaptureErrorCode.APPLY_FAILED);
  const s = manager.status();
  t.equal(s.ok, false);
  t.equal(s.failures, 1);
  t.equal(s.lastError?.code, CaptureErrorCode.APPLY_FAILED);
  t.equal(s.lastError?.stderr, 'iptables-restore: line 7 failed');
  t.strictSame(s.nodeIps, good.nodeIps, 'status still describes the last good rules');
  t.equal(s.lastAppliedAt, good.lastAppliedAt);
  const line = logger.lines.find((l) => l.level === 'error');
  t.equal(line?.obj['err'], 'iptables-restore: line 7 failed');
  runner.respond = () => undefined;
  runner.clear();
  t.strictSame(await manager.update(['10.0.0.5', '10.0.0.6'], EMPTY_PORT_CONFIG), { applied: true, changed: true }, 'the same update is retried');
  t.equal(manager.status().ok, true);
  t.equal(manager.status().lastError?.code, CaptureErrorCode.APPLY_FAILED, 'the last error stays visible');
});

t.test('missing iptables, failing save, throwing runner: reported, not thrown', async (t) => {
  const { runner, manager } = setup();
  runner.respond = () => ({ code: COMMAND_NOT_FOUND, stdout: '', stderr: 'iptables-save: spawn iptables-save ENOENT' });
  t.equal((await manager.update(['10.0.0.5'], EMPTY_PORT_CONFIG)).error?.code, CaptureErrorCode.IPTABLES_MISSING);
  t.match(manager.status().lastError?.message, /install the Debian package iptables/);
  runner.respond = (c) => (c.cmd === 'iptables-save' ? { code: 4, stdout: '', stderr: 'permission denied' } : undefined);
  t.equal((await manager.resync()).error?.code, CaptureErrorCode.SAVE_FAILED);
  t.equal(runner.restores().length, 0, 'no restore without knowing the state');
  runner.respond = () => {
    throw new Error('runner exploded');
  };
  t.equal((await manager.resync()).error?.code, CaptureErrorCode.APPLY_FAILED);
  t.equal(manager.status().failures, 3);
});

t.test('invalid input rejects; invalid options throw', async (t) => {
  const { runner, manager } = setup();
  await t.rejects(manager.update(['not-an-ip'], EMPTY_PORT_CONFIG), { code: CaptureErrorCode.INVALID_IP });
  t.equal(runner.calls.length, 0);
  t.throws(() => setup({ chainPrefix: 'no spaces' }), { code: CaptureErrorCode.INVALID_PREFIX });
  t.throws(() => setup({ httpTarget: { ip: 'x', port: 1 } }), { code: CaptureErrorCode.INVALID_TARGET });
});

t.test('stop removes all our jumps and chains, and is idempotent', async (t) => {
  const { runner, manager } = setup();
  await manager.update(['10.0.0.5'], WITH_9100);
  runner.save = INSTALLED;
  runner.clear();
  t.equal(await manager.stop(), true);
  t.equal(
    runner.restores()[0],
    [
      '*nat',
      '-D OUTPUT -m comment --comment "edge-tunnel: capture OUTPUT" -j EDGE-TUNNEL-OUTPUT',
      '-D PREROUTING -m comment --comment "edge-tunnel: capture PREROUTING" -j EDGE-TUNNEL-PREROUTING',
      ...['OUTPUT', 'PREROUTING', 'PORT-10250', 'PORT-10255', 'PORT-9100'].map((c) => `:EDGE-TUNNEL-${c} - [0:0]`),
      ...['OUTPUT', 'PREROUTING', 'PORT-10250', 'PORT-10255', 'PORT-9100'].map((c) => `-X EDGE-TUNNEL-${c}`),
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.equal(manager.status().ruleCount, 0);
  runner.save = '*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
  runner.clear();
  t.equal(await manager.stop(), true);
  t.equal(runner.restores().length, 0, 'nothing installed: no restore');
  runner.respond = (c) => (c.cmd === 'iptables-restore' ? { code: 1, stdout: '', stderr: 'busy' } : undefined);
  runner.save = INSTALLED;
  t.equal(await manager.stop(), false);
  t.equal(manager.status().lastError?.code, CaptureErrorCode.REMOVE_FAILED);
  runner.respond = () => undefined;
  runner.clear();
  t.strictSame(await manager.update(['10.0.0.5'], EMPTY_PORT_CONFIG), { applied: true, changed: true }, 'usable again after stop');
});

t.test('skipped IPs are a warning', async (t) => {
  const { manager, logger } = setup();
  await manager.update(['10.0.0.5', 'fd00::5'], EMPTY_PORT_CONFIG);
  const warn = logger.lines.find((l) => l.level === 'warn');
  t.match(String(warn?.obj['reason']), /IPv6.*fd00::5/);
  t.strictSame(manager.status().skipped, [{ ip: 'fd00::5', reason: 'IPV6' }]);
});

t.test('a custom prefix and commands are used', async (t) => {
  const { runner, manager } = setup({ chainPrefix: 'ET2', commands: { save: 'iptables-legacy-save', restore: 'iptables-legacy-restore' } });
  await manager.update(['10.0.0.5'], EMPTY_PORT_CONFIG);
  t.strictSame(
    runner.calls.slice(0, 2).map((c) => c.cmd),
    ['iptables-legacy-save', 'iptables-legacy-restore'],
  );
  t.match(runner.calls[1]?.stdin, /^:ET2-PORT-10250 - \[0:0\]$/m);
  t.notMatch(runner.calls[1]?.stdin, /EDGE-TUNNEL/);
});

t.test('public API', async (t) => {
  for (const name of [
    'renderRules',
    'planRules',
    'renderTeardown',
    'parseNatState',
    'createRunner',
    'IptablesManager',
    'CaptureError',
    'DEFAULT_CHAIN_PREFIX',
    'DEFAULT_COMMANDS',
  ]) {
    t.ok(name in api, name);
  }
  t.equal(api.DEFAULT_CHAIN_PREFIX, 'EDGE-TUNNEL');
});
