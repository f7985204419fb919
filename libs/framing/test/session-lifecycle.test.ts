// Session lifecycle: keepalive (RTT, dead peer), GOAWAY, close(deadline), destroy.
import t from 'tap';
import { FramingError, SessionClosedError, StreamResetError } from '../src/errors.js';
import { Session } from '../src/session.js';
import type { Stream } from '../src/stream.js';
import { duplexPair } from './fixtures/pair.js';
import { next, readAll, until, within } from './fixtures/streams.js';
import { sessionPair } from './fixtures/transports.js';

const META = { host: '127.0.0.1', port: 80 };

t.test('keepalive: RTT measured, a live peer is never declared dead', async (t) => {
  // a timeout well above the event-loop stalls of a loaded CI machine: a stall longer than it would
  // (rightly) read as a silent peer, since timers run before the poll phase reads the waiting PONGs
  const keep = { keepaliveIntervalMs: 100, keepaliveTimeoutMs: 600 };
  const p = await sessionPair('tcp', { client: keep, server: keep });
  t.teardown(() => p.close());
  const rtt = await p.client.ping();
  t.ok(rtt >= 0 && rtt < 1_000, `ping() resolved with ${rtt.toFixed(3)} ms`);
  t.equal(p.client.rttMs, rtt, 'rttMs holds the last measurement');
  let closed = false;
  p.client.once('close', () => (closed = true));
  p.server.once('close', () => (closed = true));
  const before = p.server.stats().framesIn;
  await new Promise((r) => setTimeout(r, 1_300)); // idle: only keepalive traffic for > 2 timeouts
  t.equal(closed, false, 'idle but answering peers stay up');
  t.ok(p.server.stats().framesIn - before >= 4, 'keepalive PINGs flow while idle');
  t.type(p.server.rttMs, 'number', 'the other side measured RTT from its own keepalive');
});

t.test('keepalive: a silent peer is detected within timeout + interval', async (t) => {
  const intervalMs = 100;
  const timeoutMs = 300;
  const [a, b] = duplexPair();
  const client = new Session(a, { role: 'client', keepaliveIntervalMs: intervalMs, keepaliveTimeoutMs: timeoutMs });
  const server = new Session(b, { role: 'server' });
  await Promise.all([client.ready, server.ready]);
  t.teardown(() => server.destroy());
  const open = client.open(META);
  const streamErr = next<Error>(open, 'error');
  server.on('stream', (s: Stream) => (s.accept(), s.on('error', () => {})));
  await next(open, 'opened');
  // the server goes silent: everything it writes from now on is swallowed
  b.write = (() => true) as typeof b.write;
  const silentAt = performance.now();
  const err = await within(next<SessionClosedError>(client, 'close'), 3_000, 'dead peer detection');
  const elapsed = performance.now() - silentAt;
  t.ok(err instanceof SessionClosedError);
  t.equal(err.wireCode, 'KEEPALIVE_TIMEOUT');
  t.ok(elapsed >= timeoutMs * 0.95, `not declared dead early (${elapsed.toFixed(0)} ms)`);
  t.ok(elapsed <= (timeoutMs + intervalMs) * 1.25, `detected after ${elapsed.toFixed(0)} ms (limit ${timeoutMs + intervalMs} ms)`);
  t.equal(((await streamErr) as SessionClosedError).wireCode, 'KEEPALIVE_TIMEOUT', 'open streams error with the cause');
  t.equal(client.streams.size, 0);
  await t.rejects(client.ping(), { code: 'ERR_FRAMING_SESSION_CLOSED' });
});

t.test('keepalive: sessions sharing one check timer each ping, and the silent one among them dies alone', async (t) => {
  const keep = { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 200 };
  const pairs = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const [a, b] = duplexPair();
      const client = new Session(a, { role: 'client', ...keep });
      const server = new Session(b, { role: 'server', ...keep });
      await Promise.all([client.ready, server.ready]);
      t.teardown(() => (client.destroy(), server.destroy()));
      return { client, server, b };
    }),
  );
  const silent = pairs[3]!;
  silent.b.write = (() => true) as typeof silent.b.write; // its server goes silent
  const before = pairs.map((p) => p.server.stats().framesIn);
  const err = await within(next<SessionClosedError>(silent.client, 'close'), 2_000, 'dead peer among live ones');
  t.equal(err.wireCode, 'KEEPALIVE_TIMEOUT', 'the silent peer is declared dead');
  await new Promise((r) => setTimeout(r, 300)); // longer than the timeout: the live ones must survive it
  const live = pairs.filter((p) => p !== silent);
  t.ok(
    live.every((p) => !p.client.destroyed && !p.server.destroyed),
    'every live session is still up',
  );
  t.ok(
    live.every((p) => p.server.stats().framesIn - before[pairs.indexOf(p)]! >= 2),
    'PINGs reached every live session',
  );
});

for (const side of ['client', 'server'] as const) {
  t.test(`goAway() from the ${side}: no new streams either way, open ones finish`, async (t) => {
    const p = await sessionPair('pair');
    t.teardown(() => p.close());
    const [us, them] = side === 'client' ? [p.client, p.server] : [p.server, p.client];
    for (const s of [p.client, p.server]) {
      s.on('stream', (st: Stream) => {
        st.accept();
        st.pipe(st);
      });
    }
    const existing = p.client.open(META);
    existing.write('before ');
    await next(existing, 'opened');
    const info = next<{ code: string; reason: string; lastStreamId: number }>(them, 'goaway');
    us.goAway('NO_ERROR', 'draining');
    const got = await within(info, 2_000, 'goaway');
    t.equal(got.code, 'NO_ERROR');
    t.equal(got.reason, 'draining');
    t.equal(got.lastStreamId, side === 'server' ? existing.id : 0, 'last accepted peer stream id');
    for (const s of [us, them]) {
      const err = (() => {
        try {
          s.open(META);
        } catch (e) {
          return e as FramingError;
        }
        return undefined;
      })();
      t.equal(err?.code, 'ERR_FRAMING_SESSION_NOT_OPEN', `${s.role}.open() throws`);
    }
    existing.end('after goaway');
    t.equal((await within(readAll(existing), 2_000, 'echo')).toString(), 'before after goaway', 'existing stream finished');
    await until(() => p.client.streams.size === 0 && p.server.streams.size === 0, 2_000, 'streams forgotten');
    t.equal(us.destroyed, false, 'goAway() alone keeps the session');
  });
}

t.test('close(deadline): finished streams complete, the rest are reset with GOING_AWAY', async (t) => {
  const p = await sessionPair('tcp');
  t.teardown(() => p.close());
  const serverErrors: StreamResetError[] = [];
  p.server.on('stream', (s: Stream) => {
    s.accept();
    s.on('error', (e: StreamResetError) => serverErrors.push(e));
    if (s.meta.kind === 'quick') s.pipe(s);
    else s.resume(); // 'stuck': never ends its side
  });
  const quick = p.client.open({ ...META, kind: 'quick' });
  const stuck = p.client.open({ ...META, kind: 'stuck' });
  const stuckErr = next<StreamResetError>(stuck, 'error');
  quick.write('drain me');
  stuck.write('x');
  await Promise.all([next(quick, 'opened'), next(stuck, 'opened')]);
  const quickDone = readAll(quick);
  const closedEvents = Promise.all([next(p.client, 'close'), next(p.server, 'close')]);
  const deadline = 300;
  const start = performance.now();
  const closing = p.client.close(deadline);
  setTimeout(() => quick.end(), 20);
  t.equal((await quickDone).toString(), 'drain me', 'a stream that finishes before the deadline is intact');
  await within(closing, 5_000, 'close()');
  const elapsed = performance.now() - start;
  t.ok(elapsed >= deadline * 0.95, `close waited for the deadline (${elapsed.toFixed(0)} ms)`);
  const e = await stuckErr;
  t.equal(e.wireCode, 'GOING_AWAY');
  t.equal(e.remote, false);
  await within(
    until(() => serverErrors.length > 0, 2_000, 'server saw the reset'),
    3_000,
    'reset',
  );
  t.equal(serverErrors[0]!.wireCode, 'GOING_AWAY');
  t.equal(serverErrors[0]!.remote, true);
  await within(closedEvents, 5_000, 'both sessions closed');
  t.ok(p.client.destroyed && p.server.destroyed);
});

t.test('close() returns early once every stream finished', async (t) => {
  const p = await sessionPair('pair');
  t.teardown(() => p.close());
  p.server.on('stream', (s: Stream) => (s.accept(), s.pipe(s)));
  const s = p.client.open(META);
  s.write('a');
  await next(s, 'opened');
  const start = performance.now();
  const closing = p.client.close(5_000);
  s.end();
  await readAll(s);
  await within(closing, 2_000, 'close');
  t.ok(performance.now() - start < 1_000, 'did not wait for the 5 s deadline');
  await within(next(p.server, 'close'), 3_000, 'peer closed too');
});

t.test('destroy(err): every open stream errors, close is emitted once', async (t) => {
  const p = await sessionPair('pair');
  p.server.on('stream', (s: Stream) => (s.accept(), s.on('error', () => {})));
  const streams = [p.client.open(META), p.client.open(META)];
  const errors = streams.map((s) => next<Error>(s, 'error'));
  let closes = 0;
  p.client.on('close', () => (closes += 1));
  const cause = new Error('operator said so');
  p.client.destroy(cause);
  p.client.destroy();
  for (const e of await Promise.all(errors)) t.equal(e, cause);
  t.equal(closes, 1);
  await t.rejects(
    p.client.ready.then(() => p.client.ping()),
    { code: 'ERR_FRAMING_SESSION_CLOSED' },
  );
  t.throws(() => p.client.open(META), { code: 'ERR_FRAMING_SESSION_NOT_OPEN' });
  await until(() => p.server.destroyed, 2_000, 'peer noticed');
  t.pass('the peer session closed too');
});
