// The server's original-destination lookup (passthrough under iptables capture): conntrack processes
// capped, a failing conntrack warned about once, a missing socket address is no lookup.
import type { Socket } from 'node:net';
import type { IptablesRunner, RunResult } from '@edge-tunnel/capture';
import { pino } from 'pino';
import t from 'tap';
import { MAX_LOOKUPS_IN_FLIGHT, limited, originalDstLookup } from '../src/capture/original-dst.js';
import { LogCapture } from './fixtures/harness.js';

const socket = (remotePort: number): Socket => ({ localAddress: '10.125.0.1', localPort: 10263, remoteAddress: '10.125.0.2', remotePort }) as Socket;
const entry = (port: number): string =>
  `tcp 6 431999 ESTABLISHED src=10.125.0.2 dst=10.126.1.2 sport=${port} dport=10250 src=10.125.0.1 dst=10.125.0.2 sport=10263 dport=${port} [ASSURED] mark=0 use=1`;

t.test('at most MAX_LOOKUPS_IN_FLIGHT conntrack processes; the rest start in order', async (t) => {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const slow: IptablesRunner = {
    run: async (_cmd, args) => {
      running++;
      most = Math.max(most, running);
      started.push(Number(args.at(-1)));
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return { code: 0, stdout: entry(Number(args.at(-1))), stderr: '' };
    },
  };
  const lookup = originalDstLookup(slow, pino({ level: 'silent' }));
  const ports = Array.from({ length: 50 }, (_, i) => 40_000 + i);
  const found = await Promise.all(ports.map((p) => lookup(socket(p))));
  t.equal(most, MAX_LOOKUPS_IN_FLIGHT, `${most} at once`);
  t.strictSame(started, ports, 'in arrival order');
  t.ok(
    found.every((d) => d?.ip === '10.126.1.2' && d.port === 10250),
    'every lookup answered',
  );
  const l = limited(
    {
      run: async (): Promise<RunResult> => {
        throw new Error('boom');
      },
    },
    1,
  );
  await t.rejects(l.run('x', []), /boom/);
  await t.rejects(l.run('x', []), /boom/, 'a failed command frees its slot');
});

t.test('a failing conntrack: one warn line naming the fix, then debug; routed by SNI meanwhile', async (t) => {
  const logs = new LogCapture();
  const lookup = originalDstLookup({ run: async () => ({ code: 127, stdout: '', stderr: 'spawn conntrack ENOENT' }) }, pino({ level: 'debug' }, logs.stream));
  t.equal(await lookup(socket(1)), undefined);
  t.equal(await lookup(socket(2)), undefined);
  await new Promise((r) => setImmediate(r));
  const lines = logs.lines.filter((l) => l['msg'] === 'original destination lookup failed');
  t.strictSame(
    lines.map((l) => l['level']),
    [40, 20],
    'warn once, then debug',
  );
  t.match(lines[0], { hint: /conntrack binary and CAP_NET_ADMIN/, reason: /exited 127/ });
  t.equal(await lookup({} as Socket), undefined, 'a socket without addresses (closed): no lookup');
});
