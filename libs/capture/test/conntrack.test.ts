import t from 'tap';
import { COMMAND_NOT_FOUND, changedFlows, flushConntrack, parseConntrackDestinations } from '../src/index.js';
import { FakeRunner, recordingLogger } from './fixtures/fakes.js';

const flow = (ip: string, port: number, target: string) => ({ ip, port, target });

t.test('changedFlows: added, removed and re-targeted destinations', async (t) => {
  const before = [flow('10.0.0.5', 10250, 'A'), flow('10.0.0.5', 9100, 'B'), flow('10.0.0.6', 9100, 'B')];
  const after = [flow('10.0.0.5', 10250, 'A'), flow('10.0.0.5', 9100, 'A'), flow('10.0.0.7', 10255, 'B')];
  t.strictSame(changedFlows(before, after), [
    { ip: '10.0.0.5', port: 9100 },
    { ip: '10.0.0.6', port: 9100 },
    { ip: '10.0.0.7', port: 10255 },
  ]);
  t.strictSame(changedFlows(before, before), []);
});

const LIST = [
  'tcp      6 117 TIME_WAIT src=10.244.1.1 dst=10.244.1.2 sport=40000 dport=10255 src=10.244.1.1 dst=10.244.1.1 sport=10264 dport=40000 [ASSURED] mark=0 use=1',
  'tcp      6 431999 ESTABLISHED src=10.244.1.1 dst=10.244.1.3 sport=40001 dport=9100 src=10.244.1.3 dst=10.244.1.1 sport=9100 dport=40001 [ASSURED] mark=0 use=1',
  '',
].join('\n');

t.test('parseConntrackDestinations reads the original direction', async (t) => {
  t.strictSame([...parseConntrackDestinations(LIST)], ['10.244.1.2 10255', '10.244.1.3 9100']);
});

t.test('flushConntrack deletes only destinations that have entries', async (t) => {
  const runner = new FakeRunner();
  runner.conntrackList = LIST;
  runner.respond = (c) => (c.args.includes('10.244.1.3') ? { code: 1, stdout: '', stderr: '0 flow entries' } : undefined);
  const log = recordingLogger();
  const res = await flushConntrack(
    runner,
    'conntrack',
    [
      { ip: '10.244.1.2', port: 10255 },
      { ip: '10.244.1.3', port: 9100 },
      { ip: '10.244.1.9', port: 10255 },
    ],
    log,
  );
  t.strictSame(
    runner.of('conntrack').map((c) => c.args.join(' ')),
    ['-L -p tcp', '-D -p tcp --orig-dst 10.244.1.2 --orig-port-dst 10255', '-D -p tcp --orig-dst 10.244.1.3 --orig-port-dst 9100'],
  );
  t.strictSame(res, { available: true, flushed: 1 }, 'exit 1 (entries gone meanwhile) is not an error');
  t.equal(log.lines.filter((l) => l.level === 'warn').length, 0);
});

t.test('flushConntrack: a missing binary is a debug line, a failing one a warning', async (t) => {
  const runner = new FakeRunner();
  runner.respond = () => ({ code: COMMAND_NOT_FOUND, stdout: '', stderr: 'conntrack: spawn conntrack ENOENT' });
  const log = recordingLogger();
  t.strictSame(await flushConntrack(runner, 'conntrack', [{ ip: '10.0.0.5', port: 10250 }], log), { available: false, flushed: 0 });
  t.strictSame(
    log.lines.map((l) => l.level),
    ['debug'],
  );
  runner.respond = () => ({ code: 1, stdout: '', stderr: 'nf_conntrack not loaded' });
  await flushConntrack(runner, 'conntrack', [{ ip: '10.0.0.5', port: 10250 }], log);
  t.equal(log.lines.at(-1)?.level, 'warn');
  t.equal(log.lines.at(-1)?.obj['err'], 'nf_conntrack not loaded');
  runner.clear();
  await flushConntrack(runner, 'conntrack', [], log);
  t.equal(runner.calls.length, 0, 'nothing changed: conntrack is not run');
});
