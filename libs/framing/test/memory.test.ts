// What an idle session costs: no per-session buffers (DATA headers come from a slab shared by every
// writer, the decoder's header scratch only exists once a header straddled two chunks), and the
// shared slab stays correct when several sessions write DATA frames in turn across slab boundaries;
// an idle socket stream relay holds ≥ 0.5 KiB less heap than a Duplex stream relayed by two splices;
// an idle session keeps no closures of its own on its socket, keepalive or writer.
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Session } from '../src/session.js';
import type { SocketStream } from '../src/socket-stream.js';
import { splice } from '../src/splice.js';
import type { Stream } from '../src/stream.js';
import { duplexPair } from './fixtures/pair.js';
import { next, readAll, within } from './fixtures/streams.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function pair(serverOptions: { socketStreams?: boolean; maxStreams?: number } = {}): Promise<[Session, Session]> {
  const [a, b] = duplexPair();
  const c = new Session(a, { role: 'client' });
  const s = new Session(b, { role: 'server', ...serverOptions });
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
  // keeps every pair referenced past the measurement, and fails if an idle session died meanwhile
  t.equal(sessions.flat().filter((s) => s.destroyed).length, 0, 'all 64 idle pairs still open');
});

t.test('DATA headers from the shared slab: sessions writing in turn, across slab boundaries', async (t) => {
  const FRAMES = 1500; // 2 × 1500 headers of 12 bytes > 16 KiB: both sessions cross a slab boundary
  const ends = await Promise.all([pair(), pair()]);
  const streams = await Promise.all(
    ends.map(async ([client, server]) => {
      const accepted = next<Stream>(client, 'stream');
      const local = server.open({ host: '127.0.0.1', port: 80 }).on('error', () => {});
      const remote = (await accepted).on('error', () => {});
      remote.accept();
      await next(local, 'opened');
      return { local, received: readAll(remote) };
    }),
  );
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
  t.ok(
    ends.every(([, server]) => server.stats().framesOut > FRAMES),
    'one DATA frame per write',
  );
});

const heapUsed = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

t.test('an idle relay: a SocketStream holds ≥ 0.5 KiB less heap than a Stream and two splices', async (t) => {
  const N = 1000;
  /** Heap per relay of N idle relays, both sessions' sides (each side's local end is an in-memory pair). */
  const perRelay = async (socketStreams: boolean): Promise<number> => {
    const [client, server] = await pair({ socketStreams, maxStreams: N });
    const locals: unknown[] = [];
    const before = heapUsed();
    let accepted = 0;
    server.on(socketStreams ? 'socketStream' : 'stream', (s: Stream | SocketStream) => {
      const [near, app] = duplexPair();
      locals.push(app);
      s.accept();
      if (socketStreams) (s as SocketStream).attach(near);
      else {
        splice(s as Stream, near);
        splice(near, s as Stream);
        (s as Stream).on('error', () => {});
      }
      accepted += 1;
    });
    for (let i = 0; i < N; i++) client.open({ host: '127.0.0.1', port: 80 }).on('error', () => {});
    await within(
      (async () => {
        while (accepted < N) await new Promise((r) => setImmediate(r));
      })(),
      10_000,
      'all accepted',
    );
    await new Promise((r) => setTimeout(r, 20)); // the OPEN_OKs reach the client
    const per = (heapUsed() - before) / N;
    t.equal(server.streams.size, N, `${socketStreams ? 'socket' : 'Duplex'} streams open: ${N}`);
    client.destroy();
    server.destroy();
    await new Promise((r) => setTimeout(r, 50)); // the teardown's events run before the next baseline
    return per;
  };
  await perRelay(true); // warm-up: both code paths' modules and shapes exist before measuring
  await perRelay(false);
  const duplex = await perRelay(false);
  const socket = await perRelay(true);
  // measured ~0.7 KiB: the accepting side's Duplex state, two splices and their listeners; the
  // opening side's Stream and the two in-memory ends (~2 KiB) are the same in both
  t.ok(
    duplex - socket >= 512,
    `heap per idle relay: SocketStream ${socket.toFixed(0)} B, Stream + two splices ${duplex.toFixed(0)} B (client side and in-memory ends included)`,
  );
});

t.test('an idle session: shared socket listeners, no ping map, no drain listener', async (t) => {
  const [c1] = await pair();
  const [c2] = await pair();
  for (const event of ['data', 'end', 'error', 'close']) {
    t.equal(c1.socket.listenerCount(event), 1, `one '${event}' listener on the socket`);
    t.equal(c1.socket.listeners(event)[0], c2.socket.listeners(event)[0], `the '${event}' listener is shared by every session`);
  }
  t.equal(c1.socket.listenerCount('drain'), 0, 'no drain listener until the socket pushes back');
  const internals = (s: Session) => s.rtt as unknown as { pending: unknown };
  t.equal(internals(c1).pending, undefined, 'no ping map between pings');
  const rtt = c1.ping();
  t.ok(internals(c1).pending instanceof Map, 'a map while a PING waits for its PONG');
  await rtt;
  t.equal(internals(c1).pending, undefined, 'and none after');
});

// 1 000 pairs: 7 885–7 928 B with a closure per socket listener, keepalive action and drain wait, a
// ping map, and options spread from the defaults; 5 811–6 008 B without (the server's RSS per idle agent
// session fell ~4 KB). 200 pairs read ~1 KB higher and swung more between machines.
t.test('heap per idle session pair (framing only, in-memory sockets) stays under 7 000 B', async (t) => {
  await pair();
  const N = 1000;
  const before = heapUsed();
  const sessions: Session[][] = [];
  for (let i = 0; i < N; i++) sessions.push(await pair());
  const per = (heapUsed() - before) / N;
  t.ok(per < 7_000, `heap per idle pair: ${per.toFixed(0)} B (< 7 000)`);
  t.equal(sessions.flat().filter((s) => s.destroyed).length, 0, `all ${N} idle pairs still open`);
});
