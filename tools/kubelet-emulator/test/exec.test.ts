import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import t from 'tap';
import {
  Channel,
  EXEC_PROTOCOLS,
  PORT_FORWARD_PROTOCOLS,
  encodeStatus,
  exitCodeStatus,
  frame,
  negotiate,
  parseResize,
  protocolVersion,
  successStatus,
} from '../src/channel.js';
import type { ExecEvent } from '../src/index.js';
import { collect, execPath, openChannels, received, sendOn } from './fixtures/channel-client.js';
import { clientTls, startTestKubelet, waitFor } from './fixtures/kubelet.js';

// channel.ts units first, then /exec (exec.ts, stream-session.ts) and /attach (attach.ts).
// One file because every tap file costs seconds of TypeScript loading.

t.test('negotiate picks the newest protocol the client offers', async (t) => {
  const table: [string[], string | undefined][] = [
    [['v5.channel.k8s.io'], 'v5.channel.k8s.io'],
    [['channel.k8s.io', 'v4.channel.k8s.io'], 'v4.channel.k8s.io'],
    [['v4.channel.k8s.io', 'v5.channel.k8s.io', 'channel.k8s.io'], 'v5.channel.k8s.io'],
    [['base64.channel.k8s.io', 'channel.k8s.io'], 'channel.k8s.io'],
    [['base64.channel.k8s.io'], undefined],
    [[], ''],
  ];
  for (const [offered, expected] of table) t.equal(negotiate(offered, EXEC_PROTOCOLS), expected, offered.join(','));
  t.equal(negotiate(['v5.channel.k8s.io', 'v4.channel.k8s.io'], PORT_FORWARD_PROTOCOLS), 'v4.channel.k8s.io');
  t.same(['', 'channel.k8s.io', 'v2.channel.k8s.io', 'v3.channel.k8s.io', 'v4.channel.k8s.io', 'v5.channel.k8s.io'].map(protocolVersion), [1, 1, 2, 3, 4, 5]);
});

t.test('frames and statuses', async (t) => {
  t.same([...frame(Channel.stdout, 'hi')], [1, 104, 105]);
  t.same([...frame(Channel.close, Buffer.from([0]))], [255, 0]);
  t.same([...frame(Channel.error)], [3]);
  t.equal(encodeStatus(successStatus(), 5)?.toString(), '{"metadata":{},"status":"Success"}');
  t.equal(encodeStatus(successStatus(), 1), undefined, 'v1 says nothing on success');
  const failure = exitCodeStatus(['sh', '-c', 'exit 3'], 3);
  t.equal(encodeStatus(failure, 2)?.toString(), failure.message);
  t.same(JSON.parse(encodeStatus(failure, 4)!.toString()), failure);
  t.same(parseResize(Buffer.from('{"Width":80,"Height":24}')), { width: 80, height: 24 });
  t.equal(parseResize(Buffer.from('{"Width":"80"}')), undefined);
  t.equal(parseResize(Buffer.from('{')), undefined);
});

const V5 = 'v5.channel.k8s.io';
const V4 = 'v4.channel.k8s.io';
const OUT = { stdout: true, stderr: true };

function status(result: { text(c: number): string }): Record<string, unknown> {
  return JSON.parse(result.text(Channel.error)) as Record<string, unknown>;
}

t.test('v5 exec: stdout, stderr and Success', async (t) => {
  const kubelet = await startTestKubelet(t);
  const events: [string, ExecEvent][] = [];
  kubelet.events.on('exec-start', (e: ExecEvent) => events.push(['start', e]));
  kubelet.events.on('exec-end', (e: ExecEvent) => events.push(['end', e]));
  const ws = await openChannels(kubelet, execPath(['sh', '-c', 'echo out; echo err >&2; echo $HOSTNAME'], OUT), [V5, V4]);
  const result = await collect(ws);
  t.equal(result.protocol, V5);
  t.equal(result.text(Channel.stdout), 'out\ndemo\n');
  t.equal(result.text(Channel.stderr), 'err\n');
  t.same(status(result), { metadata: {}, status: 'Success' });
  t.equal(result.closeCode, 1000);
  t.equal(kubelet.execCount(), 1);
  await waitFor(() => events.length === 2, 500, 'exec-end');
  t.match(events, [
    ['start', { namespace: 'default', pod: 'demo', container: 'app', protocol: V5 }],
    ['end', { reason: 'exited', exitCode: 0, bytesOut: 13 }],
  ]);
});

t.test('v5 exec: non-zero exit code', async (t) => {
  const kubelet = await startTestKubelet(t);
  const result = await collect(await openChannels(kubelet, execPath(['sh', '-c', 'exit 3'], OUT), [V5]));
  t.same(status(result), {
    metadata: {},
    status: 'Failure',
    message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '3' }] },
  });
  t.equal(result.closeCode, 1000);
});

t.test('exec pipes 1 MiB through stdin with matching SHA-256', async (t) => {
  const kubelet = await startTestKubelet(t);
  const data = randomBytes(1024 * 1024);
  const expected = createHash('sha256').update(data).digest('hex');
  for (const command of [['sha256sum'], ['cat']]) {
    const ws = await openChannels(kubelet, execPath(command, { stdin: true, stdout: true, stderr: true }), [V5]);
    const done = collect(ws);
    for (let i = 0; i < data.length; i += 64 * 1024) sendOn(ws, Channel.stdin, data.subarray(i, i + 64 * 1024));
    sendOn(ws, Channel.close, Buffer.from([Channel.stdin]));
    const result = await done;
    const out = result.channels.get(Channel.stdout) ?? Buffer.alloc(0);
    const got = command[0] === 'cat' ? createHash('sha256').update(out).digest('hex') : out.toString().split(' ')[0];
    t.equal(got, expected, `${command[0]}: output hash matches`);
    t.same(status(result), { metadata: {}, status: 'Success' });
  }
});

t.test('v5 close of the stdin channel ends the process stdin', async (t) => {
  const kubelet = await startTestKubelet(t);
  const ws = await openChannels(kubelet, execPath(['sh', '-c', 'cat; echo eof-seen'], { stdin: true, stdout: true }), [V5]);
  const done = collect(ws);
  sendOn(ws, Channel.stdin, 'hello\n');
  await new Promise((r) => setTimeout(r, 50));
  sendOn(ws, Channel.close, Buffer.from([Channel.stdin]));
  const result = await done;
  t.equal(result.text(Channel.stdout), 'hello\neof-seen\n');
  t.same(status(result), { metadata: {}, status: 'Success' });
});

t.test('protocol negotiation', async (t) => {
  const kubelet = await startTestKubelet(t);
  const v4 = await collect(await openChannels(kubelet, execPath(['sh', '-c', 'exit 2'], OUT), ['channel.k8s.io', V4]));
  t.equal(v4.protocol, V4, 'the newest offered protocol wins');
  t.match(status(v4), { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ message: '2' }] } });

  const v1 = await collect(await openChannels(kubelet, execPath(['sh', '-c', 'exit 2'], OUT), ['channel.k8s.io']));
  t.equal(v1.protocol, 'channel.k8s.io');
  t.match(v1.text(Channel.error), /^command terminated with non-zero exit code: .*exit code 2$/, 'v1 sends error text');

  await t.rejects(openChannels(kubelet, execPath(['true'], OUT), ['base64.channel.k8s.io']), /unexpected response 400/);
});

t.test('tty exec survives resize messages', async (t) => {
  const kubelet = await startTestKubelet(t);
  const path = execPath(['sh', '-c', 'read x; echo got $x; echo err >&2'], { stdin: true, stdout: true, tty: true });
  const ws = await openChannels(kubelet, path, [V5]);
  const done = collect(ws);
  sendOn(ws, Channel.resize, JSON.stringify({ Width: 120, Height: 40 }));
  sendOn(ws, Channel.resize, 'not json');
  sendOn(ws, 9, 'unknown channel');
  sendOn(ws, Channel.stdin, 'hi\n');
  const result = await done;
  t.equal(result.text(Channel.stdout), 'hi\r\ngot hi\r\nerr\r\n', 'the terminal echoes input and carries stderr too');
  t.same(status(result), { metadata: {}, status: 'Success' });
});

t.test('exec rejections and failures', async (t) => {
  const kubelet = await startTestKubelet(t);
  await t.rejects(openChannels(kubelet, execPath(['true'], OUT, 'default/demo/db'), [V5]), /unexpected response 404/);
  await t.rejects(openChannels(kubelet, execPath([], OUT), [V5]), /unexpected response 400/);
  await t.rejects(openChannels(kubelet, execPath(['true'], {}), [V5]), /unexpected response 400/);
  const missing = await collect(await openChannels(kubelet, execPath(['no-such-binary-xyz'], OUT), [V5]));
  t.match(status(missing), { status: 'Failure', reason: 'InternalError', message: /ENOENT/ });
});

t.test('a client that goes away kills its process', async (t) => {
  const kubelet = await startTestKubelet(t);
  const ends: ExecEvent[] = [];
  kubelet.events.on('exec-end', (e: ExecEvent) => ends.push(e));
  const ws = await openChannels(kubelet, execPath(['sleep', '30'], OUT), [V5]);
  ws.terminate();
  await waitFor(() => ends.length === 1, 1000, 'exec-end');
  t.match(ends[0], { reason: 'client-closed', exitCode: 137 });
});

t.test('attach shares one echoing process per container', async (t) => {
  const kubelet = await startTestKubelet(t);
  const path = '/attach/default/demo/app?stdin=true&stdout=true&stderr=true';
  const a = await openChannels(kubelet, path, ['v5.channel.k8s.io']);
  const b = await openChannels(kubelet, '/attach/default/demo/app?stdout=1', ['v4.channel.k8s.io']);
  const aText = received(a);
  const bText = received(b);
  sendOn(a, Channel.stdin, 'ping\n');
  await waitFor(() => aText() === 'ping\n' && bText() === 'ping\n', 1000, 'echo to both clients');

  // Closing its stdin or detaching leaves the container's process running for the others.
  sendOn(a, Channel.close, Buffer.from([Channel.stdin]));
  sendOn(a, Channel.stdin, 'ignored\n');
  const bClosed = collect(b);
  b.close();
  await bClosed;
  const c = await openChannels(kubelet, path, ['v5.channel.k8s.io']);
  const cText = received(c);
  sendOn(c, Channel.stdin, 'again\n');
  await waitFor(() => cText() === 'again\n', 1000, 'echo after re-attach');
  t.equal(aText(), 'ping\nagain\n', 'a client with closed stdin still sees output');
  a.close();
  c.close();
});

t.test('attach to another container is a separate process', async (t) => {
  const kubelet = await startTestKubelet(t);
  const app = await openChannels(kubelet, '/attach/default/demo/app?stdin=true&stdout=true', ['v5.channel.k8s.io']);
  const side = await openChannels(kubelet, '/attach/default/demo/sidecar?stdin=true&stdout=true', ['v5.channel.k8s.io']);
  const appText = received(app);
  const sideText = received(side);
  sendOn(side, Channel.stdin, 'side\n');
  await waitFor(() => sideText() === 'side\n', 1000, 'sidecar echo');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(appText(), '', 'app saw nothing');
  await t.rejects(openChannels(kubelet, '/attach/default/demo/app', ['v5.channel.k8s.io']), /unexpected response 400/);
  app.close();
  side.close();
});

t.test('exec also accepts a POST upgrade, like the kubelet', async (t) => {
  const kubelet = await startTestKubelet(t);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${kubelet.url}${execPath(['true'], { stdout: true })}`, {
      ...clientTls(),
      method: 'POST',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': 'v5.channel.k8s.io',
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => resolve(res.statusCode ?? 0));
    req.on('error', reject);
    req.end();
  });
  t.equal(status, 101);
});
