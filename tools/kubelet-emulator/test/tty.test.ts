import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { Channel } from '../src/channel.js';
import type WebSocket from 'ws';
import type { ExecEvent, KubeletHandle } from '../src/index.js';
import { collect, execPath, openChannels, received, sendOn } from './fixtures/channel-client.js';
import type { ChannelResult } from './fixtures/channel-client.js';
import { startTestKubelet, waitFor } from './fixtures/kubelet.js';

// exec with tty=true (tty.ts, helpers/tty-relay.py): a real pseudo-terminal, sized by resize messages.

const V5 = ['v5.channel.k8s.io'];
const TTY = { stdin: true, stdout: true, tty: true };

function status(result: ChannelResult): Record<string, unknown> {
  return JSON.parse(result.text(Channel.error)) as Record<string, unknown>;
}

function resize(width: number, height: number): string {
  return JSON.stringify({ Width: width, Height: height });
}

let kubelet: KubeletHandle;
t.before(async () => {
  kubelet = await startTestKubelet(t);
});

/** Opens a tty exec and, like kubectl, sends the terminal's size first (the command waits for it). */
async function openTty(command: string[], size = resize(80, 24)): Promise<WebSocket> {
  const ws = await openChannels(kubelet, execPath(command, TTY), V5);
  sendOn(ws, Channel.resize, size);
  return ws;
}

t.test('the command runs on a terminal, 0x0 when no resize comes', async (t) => {
  const command = ['sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo on-a-tty; stty size'];
  const result = await collect(await openChannels(kubelet, execPath(command, TTY), V5));
  t.equal(result.text(Channel.stdout), 'on-a-tty\r\n0 0\r\n', 'isatty on 0, 1, 2; onlcr turns \\n into \\r\\n');
  t.same(status(result), { metadata: {}, status: 'Success' });
});

t.test('the first resize sizes the terminal before the command starts; later ones raise SIGWINCH', async (t) => {
  const script = "trap 'echo winch; stty size; exit 0' WINCH; stty size; echo ready; sleep 30 & wait";
  const ws = await openTty(['sh', '-c', script], resize(100, 30));
  const text = received(ws);
  const done = collect(ws);
  await waitFor(() => text().includes('ready'), 5000, 'the trap to be set');
  t.equal(text(), '30 100\r\nready\r\n', 'stty size printed "rows cols" of the first resize');
  sendOn(ws, Channel.resize, resize(132, 43));
  const result = await done;
  t.equal(result.text(Channel.stdout), '30 100\r\nready\r\nwinch\r\n43 132\r\n', 'the WINCH trap saw the second size');
  t.same(status(result), { metadata: {}, status: 'Success' });
});

t.test('everything written before the exit is relayed', async (t) => {
  const result = await collect(await openTty(['seq', '100000']));
  const expected = Array.from({ length: 100_000 }, (_, i) => `${i + 1}\r\n`).join('');
  const got = result.text(Channel.stdout);
  t.equal(got.length, expected.length, 'all the bytes');
  t.ok(got === expected, 'in order');
});

t.test('exit codes and signals reach the status channel', async (t) => {
  for (const [script, code] of [
    ['exit 3', 3],
    ['kill -9 $$', 137],
  ] as const) {
    const result = await collect(await openTty(['sh', '-c', script]));
    t.match(status(result), { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } }, script);
  }
});

t.test('closing stdin types Ctrl-D once: a canonical-mode reader sees EOF', async (t) => {
  const ws = await openTty(['sh', '-c', 'cat; echo eof-seen']);
  const done = collect(ws);
  sendOn(ws, Channel.stdin, 'hello\n');
  sendOn(ws, Channel.close, Buffer.from([Channel.stdin]));
  const result = await done;
  t.equal(result.text(Channel.stdout), 'hello\r\nhello\r\neof-seen\r\n', 'echo, cat, then EOF');
  t.same(status(result), { metadata: {}, status: 'Success' });
});

t.test('in raw mode 64 KiB of every byte value pass unchanged both ways', async (t) => {
  const data = randomBytes(64 * 1024);
  const script = `stty raw -echo && echo ready && head -c ${data.length} | sha256sum`;
  const ws = await openTty(['sh', '-c', script]);
  const text = received(ws);
  const done = collect(ws);
  await waitFor(() => text().includes('ready'), 5000, 'raw mode');
  for (let i = 0; i < data.length; i += 4096) sendOn(ws, Channel.stdin, data.subarray(i, i + 4096));
  const result = await done;
  const hash = createHash('sha256').update(data).digest('hex');
  t.equal(result.text(Channel.stdout), `ready\n${hash}  -\n`, 'same hash; no \\r without onlcr');
});

t.test('a command that cannot run is an InternalError', async (t) => {
  const result = await collect(await openTty(['no-such-binary-xyz']));
  t.match(status(result), { status: 'Failure', reason: 'InternalError', message: /no-such-binary-xyz: No such file or directory \(ENOENT\)/ });
});

t.test('a client that goes away hangs up the terminal: its processes end', async (t) => {
  const ends: ExecEvent[] = [];
  kubelet.events.on('exec-end', (e: ExecEvent) => ends.push(e));
  const ws = await openTty(['sh', '-c', 'echo $$; exec sleep 30']);
  const text = received(ws);
  await waitFor(() => text().endsWith('\r\n'), 5000, 'the pid');
  const pid = Number(text().trim());
  ws.terminate();
  await waitFor(() => ends.length === 1, 2000, 'exec-end');
  t.match(ends[0], { reason: 'client-closed', tty: true });
  const alive = (): boolean => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie has ended
    } catch {
      return false;
    }
  };
  await waitFor(() => !alive(), 2000, `sleep (pid ${pid}) to end on SIGHUP`);
  t.pass('the process on the terminal ended');
});
