// What an idle session costs: no per-session buffers (DATA headers come from a slab shared by every
// writer, the decoder's header scratch only exists once a header straddled two chunks), and the
// shared slab stays correct when several sessions write DATA frames in turn across slab boundaries.
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Session } from '../src/session.js';
import type { Stream } from '../src/stream.js';
import { duplexPair } from './fixtures/pair.js';
import { next, readAll, within } from './fixtures/streams.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function pair(): Promise<[Session, Session]> {
  const [a, b] = duplexPair();
  const c = new Session(a, { role: 'client' });
  const s = new Session(b, { role: 'server' });
  await Promise.all([c.ready, s.ready, c.ping(), s.ping()]);
  t.teardown(() => (c.destroy(), s.destroy()));
  return [c, s];
}

const arrayBuffers = (): number => {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};

t.test('an idle session holds no buffer of its own', async (t) => {
  await pair(); // module-level state (the shared slab, Buffer's pool) exists before the baseline
  const before = arrayBuffers();
  const sessions: Session[][] = [];
  for (let i = 0; i < 64; i++) sessions.push(await pair());
  const perSession = (arrayBuffers() - before) / (2 * sessions.length);
  // a per-session 16 KiB slab (as before) or a pool slab pinned per session would show as ≥ 8 KiB
  t.ok(perSession < 512, `array buffer bytes per idle session: ${perSession.toFixed(0)} (< 512)`);
  t.equal(sessions.length, 64);
});

t.test('DATA headers from the shared slab: sessions writing in turn, across slab boundaries', async (t) => {
  const FRAMES = 1500; // 2 × 1500 headers of 12 bytes > 16 KiB: both sessions cross a slab boundary
  const ends = await Promise.all([pair(), pair()]);
  const streams = await Promise.all(ends.map(async ([client, server]) => {
    const accepted = next<Stream>(client, 'stream');
    const local = server.open({ host: '127.0.0.1', port: 80 }).on('error', () => {});
    const remote = (await accepted).on('error', () => {});
    remote.accept();
    await next(local, 'opened');
    return { local, received: readAll(remote) };
  }));
  const expected = streams.map(() => [] as Buffer[]);
  for (let i = 0; i < FRAMES; i++) {
    streams.forEach(({ local }, k) => {
      const piece = Buffer.from(`${k}:${i};`);
      expected[k]!.push(piece);
      local.write(piece);
    });
    await new Promise((r) => setImmediate(r)); // one flush per turn: one DATA frame per write
  }
  for (const { local } of streams) local.end();
  for (const [k, { received }] of streams.entries()) {
    const got = await within(received, 5_000, `session ${k}: FIN`);
    t.equal(got.toString(), Buffer.concat(expected[k]!).toString(), `session ${k}: every byte in order`);
  }
  t.ok(ends.every(([, server]) => server.stats().framesOut > FRAMES), 'one DATA frame per write');
});
