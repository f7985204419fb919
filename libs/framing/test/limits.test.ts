// Limits of one Session, each an option with a default: concurrent streams (both directions), the
// open (pending-dial) timeout, the drain deadline of close(), dead-peer detection, the control-frame
// flood limit, and that answers to our own OPENs never count as a flood.
import t from 'tap';
import { FrameType } from '../src/constants.js';
import { FramingError, SessionClosedError, StreamResetError } from '../src/errors.js';
import { DEFAULTS } from '../src/options.js';
import { Session } from '../src/session.js';
import type { Stream } from '../src/stream.js';
import { duplexPair } from './fixtures/pair.js';
import { rawPeer } from './fixtures/raw-peer.js';
import { next, until, within } from './fixtures/streams.js';

const META = { host: '127.0.0.1', port: 80 };

async function pair(client: object = {}, server: object = {}): Promise<{ client: Session; server: Session }> {
  const [a, b] = duplexPair();
  const c = new Session(a, { role: 'client', ...client });
  const s = new Session(b, { role: 'server', ...server });
  await Promise.all([c.ready, s.ready]);
  t.teardown(() => (c.destroy(), s.destroy()));
  return { client: c, server: s };
}

t.test('defaults', async (t) => {
  t.match(DEFAULTS, { maxStreams: 1024, openTimeoutMs: 10_000, keepaliveIntervalMs: 10_000, keepaliveTimeoutMs: 30_000, maxControlPerSecond: 1_000 });
});

t.test("maxStreams: streams we open stop at the peer's MAX_STREAMS with ERR_FRAMING_STREAM_LIMIT", async (t) => {
  const { client, server } = await pair({ maxStreams: 3 }, {});
  const accepted: Stream[] = [];
  client.on('stream', (s: Stream) => (s.on('error', () => {}), s.accept(), accepted.push(s)));
  const opened = [0, 1, 2].map(() => server.open(META));
  for (const s of opened) s.on('error', () => {});
  const err = (() => {
    try {
      server.open(META);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(err instanceof FramingError && err.code === 'ERR_FRAMING_STREAM_LIMIT', 'the 4th open throws ERR_FRAMING_STREAM_LIMIT');
  await until(() => accepted.length === 3, 1_000, 'three accepted');
  opened[0]!.reset('CANCEL', 'done');
  const again = server.open(META);
  again.on('error', () => {});
  await next(again, 'opened');
  t.pass('after one stream ended a new one opens');
});

t.test('maxStreams: streams the peer opens beyond our limit are refused with REFUSED', async (t) => {
  const { client, server } = await pair({}, { maxStreams: 2 });
  server.on('stream', (s: Stream) => (s.on('error', () => {}), s.accept()));
  // the client only learns the limit from SETTINGS; bypass its own check by opening before it reads them
  const streams = [0, 1].map(() => client.open(META).on('error', () => {}));
  await Promise.all(streams.map((s) => next(s, 'opened')));
  t.throws(() => client.open(META), { code: 'ERR_FRAMING_STREAM_LIMIT' }, 'the well-behaved opener stops itself');
  const peer = rawPeer({ maxStreams: 2 });
  peer.session.on('stream', (s: Stream) => (s.on('error', () => {}), s.accept()));
  const { openFrame } = await import('./fixtures/raw-peer.js');
  peer.send(openFrame(1), openFrame(3), openFrame(5));
  await until(() => peer.resets().has(5), 1_000, 'RESET of the third');
  t.match(peer.resets().get(5), { code: 'REFUSED', reason: /too many streams \(max 2\)/ });
  peer.session.destroy();
});

t.test('openTimeoutMs: an OPEN nobody answers fails with TIMEOUT and a RESET TIMEOUT on the wire', async (t) => {
  const peer = rawPeer({ openTimeoutMs: 150 });
  await peer.session.ready;
  const started = Date.now();
  const stream = peer.session.open(META);
  const err = await within(next<StreamResetError>(stream, 'error'), 2_000, 'open timeout');
  const ms = Date.now() - started;
  t.equal(err.wireCode, 'TIMEOUT');
  t.ok(ms >= 140 && ms < 600, `failed after ${ms} ms (limit 150)`);
  await until(() => peer.resets().has(stream.id), 1_000, 'RESET on the wire');
  t.equal(peer.resets().get(stream.id)!.code, 'TIMEOUT');
  t.equal(peer.session.streams.size, 0, 'no state left');
  peer.session.destroy();
});

t.test('close(deadline): open streams get the drain deadline, then GOING_AWAY', async (t) => {
  const { client, server } = await pair();
  client.on('stream', (s: Stream) => (s.accept(), s.on('error', () => {})));
  const stuck = server.open(META);
  const quick = server.open(META).on('error', () => {});
  await Promise.all([next(stuck, 'opened'), next(quick, 'opened')]);
  const stuckErr = next<StreamResetError>(stuck, 'error');
  const started = Date.now();
  const closing = server.close(200);
  setTimeout(() => quick.reset('NO_ERROR'), 50);
  const err = await within(stuckErr, 2_000, 'drain deadline');
  const ms = Date.now() - started;
  t.equal(err.wireCode, 'GOING_AWAY');
  t.match(err.reason, /drain deadline of 200 ms/);
  t.ok(ms >= 190 && ms < 700, `the stuck stream ended after ${ms} ms`);
  await closing;
  t.throws(() => server.open(META), { code: 'ERR_FRAMING_SESSION_NOT_OPEN' });
});

t.test('keepaliveTimeoutMs: a silent peer ends the session with KEEPALIVE_TIMEOUT', async (t) => {
  const peer = rawPeer({ keepaliveIntervalMs: 20, keepaliveTimeoutMs: 120 });
  const started = Date.now();
  const err = await within(peer.closed, 2_000, 'dead peer');
  const ms = Date.now() - started;
  t.ok(err instanceof SessionClosedError && err.wireCode === 'KEEPALIVE_TIMEOUT');
  t.ok(ms < 120 + 2 * 30 + 100, `detected after ${ms} ms`);
  t.equal(peer.goAway()?.code, 'KEEPALIVE_TIMEOUT');
});

t.test('a burst of refusals answering our own OPENs is not a flood', async (t) => {
  const { client, server } = await pair({ maxStreams: 4096 }, { maxControlPerSecond: 100 });
  client.on('stream', (s: Stream) => s.refuse('REFUSED', 'port not allowed'));
  const errors: string[] = [];
  for (let i = 0; i < 1_000; i++) server.open(META).on('error', (e: StreamResetError) => errors.push(e.wireCode));
  await until(() => errors.length === 1_000, 5_000, '1000 refusals');
  t.ok(
    errors.every((c) => c === 'REFUSED'),
    'every stream refused with REFUSED',
  );
  t.equal(server.destroyed, false, 'the session survives 10x its control-frame limit of refusals');
  const ok = server.open(META);
  ok.on('error', () => {});
  t.equal(ok.id > 0, true);
  // RESETs for streams the peer opened (or for closed ids) still count
  const peer = rawPeer({ maxControlPerSecond: 50 });
  peer.session.on('stream', (s: Stream) => (s.on('error', () => {}), s.accept()));
  const { openFrame } = await import('./fixtures/raw-peer.js');
  const { encodeFrame } = await import('../src/frame.js');
  peer.send(openFrame(1));
  for (let i = 0; i < 60; i++) peer.send(encodeFrame(FrameType.RESET, 0, 1, Buffer.from([0, 0, 0, 7])));
  const closed = await within(peer.closed, 2_000, 'flood');
  t.equal((closed as SessionClosedError).wireCode, 'FLOOD', 'a RESET flood from the peer is still a flood');
});
