// The original destination of a DNATed connection from its conntrack entry (the line format is the
// real `conntrack -L` output of conntrack-tools 1.4.7).
import t from 'tap';
import { lookupOriginalDst, originalDstArgs, parseOriginalDst } from '../src/index.js';
import type { AcceptedTuple, IptablesRunner } from '../src/index.js';

const T: AcceptedTuple = { localAddress: '10.125.1.1', localPort: 10263, remoteAddress: '10.125.0.5', remotePort: 48136 };
const line = (dst: string, dport: number, replySrc = '10.125.1.1', replySport = 10263, callerPort = 48136): string =>
  `tcp      6 431999 ESTABLISHED src=10.125.0.5 dst=${dst} sport=${callerPort} dport=${dport} src=${replySrc} dst=10.125.0.5 sport=${replySport} dport=${callerPort} [ASSURED] mark=0 use=1`;

t.test('arguments select the entry by its reply tuple', async (t) => {
  t.strictSame(originalDstArgs(T), [
    '-L',
    '-p',
    'tcp',
    '--reply-src',
    '10.125.1.1',
    '--reply-port-src',
    '10263',
    '--reply-dst',
    '10.125.0.5',
    '--reply-port-dst',
    '48136',
  ]);
});

t.test('parse: the first tuple of the matching line', async (t) => {
  t.strictSame(parseOriginalDst(line('10.125.2.2', 10250), T), { ip: '10.125.2.2', port: 10250 });
  const list = [
    line('10.125.3.3', 10250, '10.125.1.1', 10263, 1111),
    line('10.125.2.2', 10250),
    'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.',
  ].join('\n');
  t.strictSame(parseOriginalDst(list, T), { ip: '10.125.2.2', port: 10250 }, 'another caller port is another flow');
  t.equal(parseOriginalDst(line('10.125.2.2', 10250, '10.125.1.9'), T), undefined, 'a reply from another listener address');
  t.equal(parseOriginalDst(line('10.125.1.1', 10263), T), undefined, 'not rewritten: the caller dialled the listener');
  t.equal(parseOriginalDst('', T), undefined);
  t.equal(parseOriginalDst('tcp 6 src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2', T), undefined, 'one tuple only');
});

t.test('lookup: exit codes and entries', async (t) => {
  const runner = (code: number, stdout: string, stderr = ''): IptablesRunner & { calls: string[][] } => {
    const calls: string[][] = [];
    return { calls, run: async (cmd, args) => (calls.push([cmd, ...args]), { code, stdout, stderr }) };
  };
  const ok = runner(0, line('10.125.2.2', 10250));
  t.strictSame(await lookupOriginalDst(ok, T), { ok: true, dst: { ip: '10.125.2.2', port: 10250 } });
  t.equal(ok.calls[0]![0], 'conntrack');
  t.strictSame(await lookupOriginalDst(runner(0, ''), T), { ok: false, reason: 'no-entry' });
  t.match(await lookupOriginalDst(runner(127, '', 'spawn conntrack ENOENT'), T, '/usr/sbin/conntrack'), {
    ok: false,
    reason: 'conntrack-failed',
    detail: /exited 127: spawn conntrack ENOENT/,
  });
});
