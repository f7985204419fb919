// Flow control end to end: backpressure to a writer whose reader stopped, isolation of a stalled
// stream from its neighbours, and window auto-tuning over a delayed link.
import t from 'tap';
import { Session } from '../src/session.js';
import type { Stream } from '../src/stream.js';
import { connectDelayed } from './fixtures/delay-proxy.js';
import { digestOf, next, randomBlock, until, within, writeBulk } from './fixtures/streams.js';
import { sessionPair, type SessionPair } from './fixtures/transports.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const META = { host: '127.0.0.1', port: 80 };

for (const initialWindow of [256 * KiB, 16 * KiB, 4 * KiB]) {
  t.test(`backpressure: a reader that stops (initialWindow ${initialWindow})`, async (t) => {
    const sendBuffer = 64 * KiB;
    // startRate 0: exactly initialWindow, whatever RTT a loaded machine measures (start-window.test.ts)
    const p = await sessionPair('pair', { client: { sendBuffer }, server: { initialWindow, startRate: 0 } });
    t.teardown(() => p.close());
    const accepted = next<Stream>(p.server, 'stream');
    p.server.on('stream', (s: Stream) => s.accept()); // and never read
    const s = p.client.open(META);
    const total = 4 * MiB;
    const block = randomBlock(64 * KiB);
    let refused = 0;
    let written = 0;
    let maxHeld = 0; // bytes accepted by write() and not yet sent on the wire
    const origWrite = s.write.bind(s);
    s.write = ((chunk: Buffer, ...rest: never[]) => {
      written += chunk.length;
      const ok = origWrite(chunk, ...rest);
      if (!ok) refused += 1;
      return ok;
    }) as typeof s.write;
    const watch = setInterval(() => (maxHeld = Math.max(maxHeld, written - s.sent)), 1);
    t.teardown(() => clearInterval(watch));
    const sending = writeBulk(s, total, block);
    const remote = await accepted;
    await within(
      until(() => remote['received'] >= initialWindow, 5_000, 'window filled'),
      6_000,
      'fill',
    );
    await new Promise((r) => setTimeout(r, 100)); // give a misbehaving sender time to overrun
    t.equal(remote['received'], initialWindow, 'receiver buffered exactly one window');
    t.ok(remote.readableLength <= initialWindow, 'readable buffer within the window');
    t.equal(s.sent, initialWindow, 'sender stopped at its credit');
    t.ok(refused > 0, 'write() returned false');
    const bound = sendBuffer + s.writableHighWaterMark + block.length;
    t.ok(maxHeld <= bound, `sender held at most ${maxHeld} bytes (bound ${bound})`);
    const got = await within(digestOf(remote), 20_000, 'resume and receive');
    const sent = await sending;
    t.equal(got.bytes, total);
    t.equal(got.sha256, sent.sha256, 'everything delivered in order after resuming');
  });
}

t.test('backpressure: a paused reader resumed with read() calls', async (t) => {
  const initialWindow = 8 * KiB;
  const p = await sessionPair('pair', { server: { initialWindow } });
  t.teardown(() => p.close());
  const accepted = next<Stream>(p.server, 'stream');
  p.server.on('stream', (s: Stream) => s.accept());
  const s = p.client.open(META);
  const sending = writeBulk(s, 1 * MiB, randomBlock(16 * KiB));
  const remote = await accepted;
  await until(() => remote['received'] >= initialWindow, 5_000, 'window filled');
  let bytes = 0;
  const ended = new Promise<void>((resolve) => remote.once('end', resolve));
  remote.on('readable', () => {
    for (let b: Buffer | null; (b = remote.read()) !== null;) bytes += b.length;
  });
  await within(ended, 10_000, `readable/read() consumer got ${bytes} bytes`);
  await sending;
  t.equal(bytes, 1 * MiB);
});

/** Sends `bytes` over a fresh stream of `p` and returns the ms until the receiver has them all. */
async function timedBulk(p: SessionPair, bytes: number, block: Buffer): Promise<number> {
  const arrived = new Promise<{ digest: Promise<{ bytes: number }> }>((resolve) => {
    const onStream = (s: Stream): void => {
      if (s.meta.kind !== 'bulk') return;
      p.server.off('stream', onStream);
      s.accept();
      s.end();
      resolve({ digest: digestOf(s) });
    };
    p.server.on('stream', onStream);
  });
  const start = performance.now();
  const s = p.client.open({ ...META, kind: 'bulk' });
  s.resume();
  void writeBulk(s, bytes, block);
  const got = await within((await arrived).digest, 30_000, 'bulk');
  if (got.bytes !== bytes) throw new Error(`bulk got ${got.bytes} of ${bytes}`);
  return performance.now() - start;
}

t.test('isolation: a stalled stream does not slow a bulk neighbour', async (t) => {
  const block = randomBlock(MiB);
  const bytes = 32 * MiB;
  const bestOf = async (stalled: boolean): Promise<number> => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const p = await sessionPair('pair');
      p.server.on('stream', (s: Stream) => s.meta.kind === 'stalled' && s.accept()); // never read
      if (stalled) {
        const s = p.client.open({ ...META, kind: 'stalled' });
        void writeBulk(s, 4 * MiB, block).catch(() => {});
        await until(() => s.sent >= p.server.opts.initialWindow, 5_000, 'stalled window full');
      }
      best = Math.min(best, await timedBulk(p, bytes, block));
      await p.close();
    }
    return best;
  };
  const alone = await bestOf(false);
  const withStalled = await bestOf(true);
  const ratio = withStalled / alone;
  t.ok(ratio < 1.5, `bulk with a stalled neighbour ${withStalled.toFixed(0)} ms vs alone ${alone.toFixed(0)} ms (ratio ${ratio.toFixed(2)})`);
});

t.test('window auto-tuning over a 20 ms-per-direction link', async (t) => {
  const initialWindow = 64 * KiB;
  const bytes = 3 * MiB;
  const block = randomBlock(MiB);
  const run = async (maxWindow: number): Promise<{ ms: number; window: number }> => {
    const link = await connectDelayed(20);
    const [a, b] = link.sockets;
    const client = new Session(a, { role: 'client', initialWindow, maxWindow });
    const server = new Session(b, { role: 'server', initialWindow, maxWindow });
    await Promise.all([client.ready, server.ready]);
    let window = 0;
    const p = { client, server } as SessionPair;
    server.on('stream', (s: Stream) => s.on('end', () => (window = s.window)));
    const ms = await timedBulk(p, bytes, block);
    await until(() => client.streams.size === 0, 2_000, 'bulk stream finished');
    client.destroy();
    server.destroy();
    link.close();
    return { ms, window };
  };
  const tuned = await run(16 * MiB);
  const fixed = await run(initialWindow);
  t.ok(tuned.window > initialWindow, `receive window grew to ${tuned.window}`);
  t.equal(fixed.window, initialWindow, 'maxWindow = initialWindow keeps it fixed');
  t.ok(tuned.ms * 1.5 < fixed.ms, `auto-tuned ${tuned.ms.toFixed(0)} ms vs fixed ${fixed.ms.toFixed(0)} ms`);
});

t.test("a stream bound by its consumer's CPU keeps its window on a fast link (no bufferbloat)", async (t) => {
  const initialWindow = 64 * KiB;
  // startRate 0: the window starts at initialWindow, whatever RTT a loaded machine measures
  const p = await sessionPair('tcp', { client: { initialWindow }, server: { initialWindow, startRate: 0 } });
  // the smallest of a few round trips is what the growth rule judges against
  for (let i = 0; i < 5; i++) await p.server.ping();
  t.ok(p.server.minRttMs !== undefined, `server has an RTT sample (${p.server.minRttMs?.toFixed(3)} ms)`);
  let window = 0;
  let blocked = 0;
  const orig = p.server.peerBlocked.bind(p.server);
  p.server.peerBlocked = (s: Stream) => {
    blocked += 1;
    orig(s);
  };
  const received = new Promise<void>((resolve, reject) =>
    p.server.on('stream', (s: Stream) => {
      s.accept();
      // a consumer that spends 4 ms of CPU per 16 KiB: a window drains in far more than 2 round trips
      s.on('readable', () => {
        let chunk: Buffer | null;
        while ((chunk = s.read(16 * KiB)) !== null) {
          const until = performance.now() + 4 * (chunk.length / (16 * KiB));
          while (performance.now() < until);
        }
      });
      s.on('end', () => ((window = s.window), resolve()));
      s.on('error', reject);
    }),
  );
  const s = p.client.open({ ...META, kind: 'cpu-bound' });
  s.end(randomBlock(2 * MiB));
  await received;
  await p.close();
  t.ok(blocked > 0, `the sender ran out of credit ${blocked} times`);
  t.equal(window, initialWindow, 'the window did not grow');
});
