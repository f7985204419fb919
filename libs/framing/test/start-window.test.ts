// RTT-scaled start windows (issue 17, weak links): once a session has a round-trip sample, a new
// stream's receive window is sized for startRate over the smallest RTT, announced by a WINDOW right
// behind the OPEN (or with the OPEN_OK for a peer-opened stream), within half the receive budget.
import t from 'tap';
import { startWindow } from '../src/flow.js';
import { Session } from '../src/session.js';
import type { Stream } from '../src/stream.js';
import { connectDelayed } from './fixtures/delay-proxy.js';
import { next, randomBlock, until } from './fixtures/streams.js';
import { sessionPair } from './fixtures/transports.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const META = { host: '127.0.0.1', port: 80 };
const RATE = 2.5 * MiB;

t.test('startWindow: the arithmetic', async (t) => {
  t.equal(startWindow(256 * KiB, 16 * MiB, RATE, undefined, Infinity), 256 * KiB, 'no sample: initialWindow');
  t.equal(startWindow(256 * KiB, 16 * MiB, RATE, 0.3, Infinity), 256 * KiB, 'loopback RTT: initialWindow');
  t.equal(startWindow(256 * KiB, 16 * MiB, RATE, 100, Infinity), 256 * KiB, '100 ms: 2.5 MiB/s needs exactly 256 KiB');
  t.equal(startWindow(256 * KiB, 16 * MiB, RATE, 800, Infinity), 2 * MiB, '800 ms: 2 MiB (instead of 2.6 Mbit/s, 21 Mbit/s per stream)');
  t.equal(startWindow(256 * KiB, 1 * MiB, RATE, 800, Infinity), 1 * MiB, 'capped by maxWindow');
  t.equal(startWindow(256 * KiB, 16 * MiB, RATE, 800, 100 * KiB), 356 * KiB, 'the part above initialWindow within the room');
  t.equal(startWindow(256 * KiB, 16 * MiB, RATE, 800, -5 * MiB), 256 * KiB, 'no room: initialWindow');
  t.equal(startWindow(256 * KiB, 16 * MiB, 0, 800, Infinity), 256 * KiB, 'startRate 0: off');
});

/** Two sessions over a link that delays each direction by `delayMs`, once both have an RTT sample. */
async function delayedPair(t: { teardown(fn: () => void): void }, delayMs: number, opts: { initialWindow: number; receiveBudget?: number }) {
  const link = await connectDelayed(delayMs);
  const [a, b] = link.sockets;
  const client = new Session(a, { role: 'client', ...opts });
  const server = new Session(b, { role: 'server', ...opts });
  t.teardown(() => (client.destroy(), server.destroy(), link.close()));
  await Promise.all([client.ready, server.ready]);
  await until(() => client.minRttMs !== undefined && server.minRttMs !== undefined, 5_000, 'an RTT sample on both sides');
  return { client, server };
}

t.test('at a 200 ms RTT both ends of a new stream start with the larger credit', async (t) => {
  const initialWindow = 64 * KiB;
  const { client, server } = await delayedPair(t, 100, { initialWindow });
  const want = (s: Session): number => Math.min(16 * MiB, Math.ceil((RATE * s.minRttMs!) / 1000));
  const accepted = next<Stream>(server, 'stream');
  server.on('stream', (s: Stream) => s.accept()); // and never read
  const local = client.open(META);
  local.on('error', () => {});
  const remote = await accepted;
  remote.on('error', () => {});
  t.ok(local.window >= 500 * KiB, `the opener's receive window ${local.window} B (≈ 2.5 MiB/s × ${client.minRttMs!.toFixed(0)} ms)`);
  t.equal(local.window, want(client));
  t.equal(remote.window, want(server), `the acceptor's receive window ${remote.window} B`);
  // what each sender learned: the WINDOW behind the OPEN, and the one before OPEN_OK
  await until(() => remote.limit === local.window && local.limit === remote.window, 3_000, 'both WINDOWs arrived');
  t.equal(remote.limit, local.window, 'the acceptor may send the opener its whole start window');
  t.equal(local.limit, remote.window, 'the opener may send the acceptor its whole start window');
  // the sender fills the larger credit with nobody reading, and no more (no FLOW_CONTROL_ERROR)
  local.write(randomBlock(2 * MiB));
  await until(() => remote.received >= remote.window, 5_000, 'the start window filled');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(remote.received, remote.window, 'the receiver holds exactly its start window');
  t.equal(remote.resetCode, undefined, 'no flow-control error');
});

t.test('at a loopback RTT a new stream starts with initialWindow and no extra WINDOW', async (t) => {
  const initialWindow = 64 * KiB;
  const p = await sessionPair('tcp', { client: { initialWindow }, server: { initialWindow } });
  t.teardown(() => p.close());
  await p.client.ping();
  await p.server.ping();
  const accepted = next<Stream>(p.server, 'stream');
  p.server.on('stream', (s: Stream) => s.accept());
  const framesBefore = p.client.stats().framesOut;
  const local = p.client.open(META);
  const remote = await accepted;
  t.ok(p.client.minRttMs! < 25, `loopback RTT ${p.client.minRttMs!.toFixed(2)} ms`);
  t.equal(local.window, initialWindow);
  t.equal(remote.window, initialWindow);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(remote.limit, initialWindow, 'the acceptor may send INITIAL_WINDOW');
  t.equal(local.limit, initialWindow, 'the opener may send INITIAL_WINDOW');
  t.equal(p.client.stats().framesOut - framesBefore, 1, 'the OPEN alone: no WINDOW behind it');
});

t.test('start windows take at most half the receive budget; the other half stays for initial windows', async (t) => {
  const initialWindow = 64 * KiB;
  const receiveBudget = 1 * MiB;
  const { client, server } = await delayedPair(t, 100, { initialWindow, receiveBudget });
  const remotes: Stream[] = [];
  server.on('stream', (s: Stream) => (s.on('error', () => {}), s.accept(), remotes.push(s)));
  // as many streams as the budget holds initial windows: every one fitted before start windows
  const locals = Array.from({ length: receiveBudget / initialWindow }, () => client.open(META));
  for (const s of locals) s.on('error', () => {});
  const refused = (): Stream[] => locals.filter((s) => s.resetCode !== undefined);
  await until(() => remotes.length + refused().length === locals.length, 5_000, 'every OPEN answered');
  const windows = remotes.map((s) => s.window);
  const started = windows.filter((w) => w > initialWindow);
  t.ok(started.length >= 1, `start windows: ${started.join(', ')} B`);
  t.ok(started.reduce((a, b) => a + b, 0) <= receiveBudget / 2, 'the start windows together within half the budget');
  t.ok(windows.reduce((a, b) => a + b, 0) <= receiveBudget, 'committed within the budget');
  t.ok(
    remotes.length >= started.length + receiveBudget / 2 / initialWindow,
    `${remotes.length} admitted: the other half held ${receiveBudget / 2 / initialWindow} initial windows`,
  );
  t.ok(
    refused().every((s) => /receive budget/.test(s.resetReason ?? '')),
    `the ${refused().length} refused for the budget, with the reason`,
  );
});

t.test("the acceptor's start window goes with its OPEN_OK, not alone at OPEN: one frame less before the dial, none for a refusal", async (t) => {
  const initialWindow = 64 * KiB;
  const { client, server } = await delayedPair(t, 100, { initialWindow });
  const waiting: Stream[] = [];
  server.on('stream', (s: Stream) => (s.on('error', () => {}), waiting.push(s))); // the "dial" takes a while
  const opened = client.open(META);
  opened.on('error', () => {});
  await until(() => waiting.length === 1, 3_000, 'the OPEN arrived');
  const framesAtOpen = server.stats().framesOut;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(server.stats().framesOut, framesAtOpen, 'nothing sent while the target is dialled (no WINDOW alone)');
  const remote = waiting[0]!;
  t.ok(remote.window > initialWindow, `a start window ${remote.window} B`);
  remote.accept();
  await until(() => opened.limit === remote.window, 3_000, 'the opener got the start window');
  t.equal(server.stats().framesOut - framesAtOpen, 2, 'WINDOW and OPEN_OK, in that order (the limit was set before OPEN_OK counted)');
  // a refused stream costs the RESET alone
  const refused = client.open(META);
  refused.on('error', () => {});
  await until(() => waiting.length === 2, 3_000, 'the second OPEN arrived');
  const before = server.stats().framesOut;
  waiting[1]!.refuse('REFUSED', 'not allowed');
  await until(() => refused.resetCode !== undefined, 3_000, 'the refusal arrived');
  t.equal(server.stats().framesOut - before, 1, 'the RESET only');
  t.equal(refused.limit, initialWindow, 'no start window for a refused stream');
});
