// The raw relay behind CONNECT and upgrades (src/proxy/relay.ts): frames of one tick reach the caller
// in one write, bulk bytes arrive intact and are counted exactly, and the idle limit counts bytes
// either way as activity.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createNetServer, connect as netConnect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { connectAgent, sleep, startServer, waitAttached } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';
import { corkForTurn } from '@edge-tunnel/framing';
import { CALLER_HIGH_WATER_MARK } from '../src/proxy/listener.js';

const pki = await testPki();
const IP = '127.0.20.12';
const TARGET = `${IP}:10255`;
const MiB = 1024 * 1024;
const download = randomBytes(8 * MiB);

// the target: first byte 'E' echoes what follows; any other sends `download`, then, at the caller's
// end, the count of bytes it received after the first
const target = createNetServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  s.once('data', (first: Buffer) => {
    if (first[0] === 0x45 /* E */) return s.pipe(s);
    let up = first.length - 1;
    s.on('data', (b: Buffer) => (up += b.length));
    s.once('end', () => s.end(`${up}`));
    s.write(download);
  });
});
await new Promise<void>((r) => target.listen(0, IP, r));
t.teardown(() => target.close());
const targetPort = (target.address() as { port: number }).port;

const server = await startServer(t, pki, ['--connect-addr', '127.0.0.1:0', '--relay-idle-timeout-ms', '300']);
const agent = await connectAgent(t, pki, server, 'edge-r', [IP], { portMap: { 10255: targetPort } });
await waitAttached(server, 'edge-r', agent);

t.test('the caller socket high-water mark holds a turn of frames: corkForTurn batches them, none sees backpressure', async (t) => {
  const batches: number[][] = [];
  const sink = new Writable({
    highWaterMark: CALLER_HIGH_WATER_MARK,
    writev: (chunks, cb) => (batches.push(chunks.map((c) => (c.chunk as Buffer).length)), cb()),
    write: (chunk: Buffer, _enc, cb) => (batches.push([chunk.length]), cb()),
  });
  for (const n of [16_372, 16_372, 16_372, 100]) {
    corkForTurn(sink, n);
    t.equal(sink.write(Buffer.alloc(n)), true, `${n} bytes fit under the caller highWaterMark`);
  }
  await new Promise((r) => setImmediate(r));
  t.same(batches, [[16_372, 16_372, 16_372, 100]]);
});

/** A CONNECT through the server to the target, once established: the bytes after the 200, and when the relay ended. */
async function connectThrough(): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<number> }> {
  const socket = netConnect({ port: server.addr.connect!.port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (b: Buffer) => chunks.push(b));
  socket.on('error', () => {});
  // the caller half-closes for the upload: the relay's end shows as 'end' (or 'close' on a reset)
  const closed = new Promise<number>((r) => (socket.once('end', () => r(performance.now())), socket.once('close', () => r(performance.now()))));
  socket.write(`CONNECT ${TARGET} HTTP/1.1\r\nHost: ${TARGET}\r\n\r\n`);
  const head = (): number => Buffer.concat(chunks).indexOf('\r\n\r\n');
  for (let i = 0; head() < 0; i++) {
    if (i > 200) throw new Error('CONNECT not answered');
    await sleep(10);
  }
  const end = head();
  const all = Buffer.concat(chunks);
  t.match(all.subarray(0, end).toString(), /^HTTP\/1\.1 200/);
  chunks.length = 0;
  chunks.push(all.subarray(end + 4));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

t.test('8 MiB down and 1 MiB up through CONNECT: every byte intact, audit counts exact', async (t) => {
  const { socket, received, closed } = await connectThrough();
  const upload = randomBytes(MiB);
  socket.write('S');
  socket.end(upload);
  await closed;
  const got = received();
  socket.destroy();
  t.equal(got.length, download.length + String(MiB).length, 'the download, then the count of uploaded bytes');
  t.equal(createHash('sha256').update(got.subarray(0, download.length)).digest('hex'), createHash('sha256').update(download).digest('hex'));
  t.equal(got.subarray(download.length).toString(), String(MiB), 'the target received the whole upload');
  t.match(await server.logs.waitFor((l) => l['msg'] === 'audit' && l['listener'] === 'connect' && l['nodeName'] === 'edge-r'), {
    status: 200,
    bytesIn: MiB + 1,
    bytesOut: download.length + String(MiB).length,
  });
});

t.test('idle limit 300 ms: a byte every 100 ms keeps the relay open; silence closes it', async (t) => {
  const { socket, received, closed } = await connectThrough();
  let open = true;
  void closed.then(() => (open = false));
  socket.write('E');
  for (let i = 0; i < 9; i++) {
    await sleep(100);
    t.ok(open, `open after ${(i + 1) * 100} ms of trickle`);
    socket.write('x');
  }
  const lastByte = performance.now();
  const ms = (await closed) - lastByte;
  socket.destroy();
  t.equal(received().toString(), 'x'.repeat(9), 'the trickle was echoed');
  t.ok(ms >= 250 && ms < 1500, `closed ${ms.toFixed(0)} ms after the last byte (idle limit 300 ms)`);
  t.match(await server.logs.waitFor((l) => l['msg'] === 'audit' && l['reason'] === 'IDLE_TIMEOUT'), {
    listener: 'connect',
    nodeName: 'edge-r',
    bytesIn: 10,
    bytesOut: 9,
  });
});

t.test('idle limit: relays sharing one sweep are judged apart (a silent one closes, a busy one stays)', async (t) => {
  const busy = await connectThrough();
  const silent = await connectThrough();
  let busyOpen = true;
  void busy.closed.then(() => (busyOpen = false));
  busy.socket.write('E');
  silent.socket.write('E');
  const silentSince = performance.now();
  let silentMs = -1;
  void silent.closed.then((at) => (silentMs = at - silentSince));
  for (let i = 0; i < 9; i++) {
    await sleep(100);
    busy.socket.write('x');
  }
  t.ok(busyOpen, 'the busy relay is open after 900 ms of trickle');
  t.ok(silentMs >= 250 && silentMs < 900, `the silent relay closed ${silentMs.toFixed(0)} ms after its last byte (idle limit 300 ms)`);
  await busy.closed;
  busy.socket.destroy();
  silent.socket.destroy();
});
