// The resumable link beneath a Session, over real TLS: TCP connections cut mid-transfer (several
// times, both directions at once) and resumed over new connections, the session's bytes arriving
// byte-exact (no loss, duplicate or reordering) with the replay buffer bounded by maxUnacked;
// writes blocking while paused; resumes refused for a wrong secret, another node's certificate, an
// unknown session (the refused resume leaving the session resumable by its owner); a grace period
// ending the streams with its reason; a silent connection judged by the link's keepalive (its grace:
// resume-grace.test.ts); the record decoder on split input and bad records.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Stream } from '../src/stream.js';
import { ResumableLink } from '../src/resume/link.js';
import { RecordDecoder, RecordType, encodeRecord, dataHeader } from '../src/resume/records.js';
import { resumeRig } from './fixtures/resume-rig.js';
import { digestOf, randomBlock, until, within, writeBulk } from './fixtures/streams.js';

const MiB = 1024 * 1024;

/** A bulk stream each way on one session stream: the digests sent and received, both directions. */
async function bulkBothWays(rig: Awaited<ReturnType<typeof resumeRig>>, bytes: number) {
  const accepted = new Promise<Stream>((resolve) => rig.server.once('stream', (s: Stream) => (s.accept(), resolve(s))));
  const up = rig.client.open({ host: 'h', port: 1 });
  const down = await accepted;
  const got = { atServer: digestOf(down), atClient: digestOf(up) };
  const sent = { up: writeBulk(up, bytes, randomBlock(100_003)), down: writeBulk(down, bytes, randomBlock(99_991)) };
  return { sent, got, up, down };
}

t.test('cuts mid-transfer, resumed three times: every byte once and in order, replay buffer bounded', async (t) => {
  const maxUnacked = 256 * 1024;
  const rig = await resumeRig({ maxUnacked });
  t.teardown(() => rig.close());
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, rig.clientLink.replay.size, rig.serverLink.replay.size)), 1);
  t.teardown(() => clearInterval(sample));
  const { sent, got, up, down } = await bulkBothWays(rig, 24 * MiB);
  const errors: string[] = [];
  for (const s of [up, down]) s.on('error', (e: Error) => errors.push(e.message));
  const paused: string[] = [];
  rig.clientLink.on('paused', (r: string) => paused.push(r));
  for (let cut = 1; cut <= 3; cut++) {
    await until(() => rig.clientLink.stats().bytesIn > cut * 5 * MiB, 20_000, `${cut * 5} MiB through`);
    rig.cut();
    await until(() => rig.clientLink.paused && rig.serverLink.paused, 5_000, 'both ends paused');
    // the bytes in flight at the cut are held for replay (nothing was acknowledged for them)
    t.ok(rig.clientLink.replay.size + rig.serverLink.replay.size > 0, `cut ${cut}: unacknowledged bytes held`);
    const r = await rig.resume();
    t.ok(r.replayed >= 0, `cut ${cut}: resumed, ${r.replayed} bytes replayed by the agent`);
  }
  const [upSent, downSent, atServer, atClient] = await within(Promise.all([sent.up, sent.down, got.atServer, got.atClient]), 60_000, 'transfers');
  t.same(atServer, upSent, 'agent → server: byte-identical');
  t.same(atClient, downSent, 'server → agent: byte-identical');
  t.equal(paused.length, 3, 'the agent link paused once per cut');
  t.equal(rig.table.counters.succeeded, 3, 'three resumes succeeded');
  const replayed = rig.clientLink.stats().bytesReplayed + rig.serverLink.stats().bytesReplayed;
  t.equal(rig.table.counters.bytesReplayed, rig.serverLink.stats().bytesReplayed, 'the table counts the server side replays');
  t.ok(replayed > 0, `bytes replayed in all: ${replayed}`);
  // one write beyond the bound at most (the write that crossed it waits)
  t.ok(peak <= maxUnacked + 2 * 64 * 1024, `peak replay buffer ${peak} ≤ maxUnacked ${maxUnacked} + one write`);
  t.same(errors, [], 'no stream error on either side');
  t.equal(rig.client.streams.size + rig.server.streams.size, 0, 'both directions finished with FIN');
});

t.test('while paused, writes past maxUnacked block until a resume acknowledges them', async (t) => {
  const link = new ResumableLink({ maxUnacked: 64 * 1024 });
  t.teardown(() => link.destroy());
  let done = 0;
  for (let i = 0; i < 8; i++) link.write(Buffer.alloc(16 * 1024, i), () => (done += 1));
  await new Promise((r) => setTimeout(r, 50));
  t.ok(done <= 5, `only the writes within the bound completed (${done} of 8)`);
  t.ok(link.replay.size <= 64 * 1024 + 16 * 1024, `held ${link.replay.size} bytes`);
  t.ok(link.writableLength > 0, 'the rest waits in the writable buffer: the writer above sees backpressure');
});

t.test('a resume with a wrong secret, from another node, or for an unknown session is refused; the owner still resumes', async (t) => {
  const rig = await resumeRig();
  t.teardown(() => rig.close());
  const accepted = new Promise<Stream>((resolve) => rig.server.once('stream', (s: Stream) => (s.accept(), resolve(s))));
  const up = rig.client.open({ host: 'h', port: 1 });
  const down = await accepted;
  for (const s of [up, down]) s.on('error', () => {});
  rig.cut();
  await until(() => rig.clientLink.paused && rig.serverLink.paused, 5_000, 'paused');
  const wrongSecret = { ...rig.credentials, secret: randomBytes(32) };
  await t.rejects(rig.resume('edge-1', wrongSecret), { refusal: 'BAD_PROOF', message: /does not match/ }, 'wrong secret → BAD_PROOF');
  rig.nextIdentity = 'edge-2';
  await t.rejects(
    rig.resume('edge-2'),
    { refusal: 'WRONG_NODE', message: /belongs to node edge-1; this certificate names edge-2/ },
    'another node → WRONG_NODE',
  );
  rig.nextIdentity = 'edge-1';
  const unknown = { ...rig.credentials, sessionId: randomBytes(16) };
  await t.rejects(rig.resume('edge-1', unknown), { refusal: 'UNKNOWN_SESSION', message: /no session/ }, 'unknown session → UNKNOWN_SESSION');
  t.same(rig.table.counters.refused, { BAD_PROOF: 1, WRONG_NODE: 1, UNKNOWN_SESSION: 1 }, 'refusals counted by code');
  t.ok(rig.serverLink.paused && !rig.serverLink.destroyed, 'the refused attempts did not touch the held session');
  await rig.resume();
  up.write('after the resume');
  const chunk = await within(new Promise<Buffer>((r) => down.once('data', r)), 5_000, 'data after resume');
  t.equal(chunk.toString(), 'after the resume', 'the stream carries on');
  t.equal(rig.table.counters.attempted, 4, 'four attempts');
  t.equal(rig.table.counters.succeeded, 1, 'one success');
});

t.test('the grace period ends the session and its streams with the reason', async (t) => {
  const rig = await resumeRig({ graceMs: 300 });
  t.teardown(() => rig.close());
  const accepted = new Promise<Stream>((resolve) => rig.server.once('stream', (s: Stream) => (s.accept(), resolve(s))));
  rig.client.open({ host: 'h', port: 1 }).on('error', () => {});
  const down = await accepted;
  const err = new Promise<Error>((r) => down.once('error', r));
  rig.cut();
  const e = await within(err, 5_000, 'stream error');
  t.match(e.message, /no resume within the grace of 300 ms/, `the stream's error says why: ${e.message}`);
  t.equal(rig.table.counters.expired, 1, 'expiry counted');
  t.equal(rig.table.size, 0, 'the table forgot the session');
  await t.rejects(rig.resume(), { refusal: 'UNKNOWN_SESSION', message: /grace of 300 ms passed/ }, 'a late resume is refused with the reason');
});

t.test('a graceful end is not resumed: FIN then loss ends the link', async (t) => {
  const rig = await resumeRig();
  t.teardown(() => rig.close());
  const closed = new Promise((r) => rig.server.once('close', r));
  await rig.client.close(100);
  await within(closed, 5_000, 'server session closed');
  t.notOk(rig.serverLink.resumable, 'the server link saw the end');
  t.equal(rig.table.size, 0, 'nothing held for a resume');
});

t.test('record decoder: byte-at-a-time input, oversized and unknown records', async (t) => {
  const got: Array<[number, string]> = [];
  const d = new RecordDecoder({ record: (type, p) => got.push([type, p.toString()]) });
  const wire = Buffer.concat([dataHeader(5), Buffer.from('hello'), encodeRecord(RecordType.FIN), dataHeader(3), Buffer.from('abc')]);
  for (const b of wire) d.push(Buffer.from([b]));
  t.same(got, [
    [RecordType.DATA, 'hello'],
    [RecordType.FIN, ''],
    [RecordType.DATA, 'abc'],
  ]);
  t.throws(() => new RecordDecoder({ record() {} }).push(dataHeader(64 * 1024 + 1)), /DATA record of 65537 bytes/, 'DATA over 64 KiB');
  t.throws(() => new RecordDecoder({ record() {} }).push(Buffer.from([0x7f, 0, 0, 0])), /unknown record type/);
  t.throws(() => new RecordDecoder({ record() {} }).push(Buffer.from([RecordType.ACK, 0, 0, 4])), /must be 8 bytes/);
});

t.test('an ACK beyond what was sent destroys the link (no resume for a broken peer)', async (t) => {
  const rig = await resumeRig();
  t.teardown(() => rig.close());
  const closed = new Promise<Error | undefined>((r) => rig.serverLink.once('close', () => r(undefined)));
  const err = new Promise<Error>((r) => rig.serverLink.once('error', r));
  // forge an ACK on the agent's socket, as a broken peer would
  const socket = (rig.clientLink as unknown as { socket: import('node:stream').Duplex }).socket;
  const p = Buffer.alloc(8);
  p.writeBigUInt64BE(10n ** 12n);
  socket.write(encodeRecord(RecordType.ACK, p));
  t.match((await within(err, 5_000, 'link error')).message, /ACK 1000000000000 outside/);
  await closed;
});

t.test('a silent connection (nothing arrives either way) is judged by the link keepalive: pause, then resume', async (t) => {
  const rig = await resumeRig({ keepaliveIntervalMs: 50, keepaliveTimeoutMs: 300 });
  t.teardown(() => rig.close());
  const accepted = new Promise<Stream>((resolve) => rig.server.once('stream', (s: Stream) => (s.accept(), resolve(s))));
  const up = rig.client.open({ host: 'h', port: 1 });
  const down = await accepted;
  for (const s of [up, down]) s.on('error', () => {});
  const reasons: string[] = [];
  rig.clientLink.on('paused', (r: string) => reasons.push(r));
  // both ends stop hearing anything on the connection (as behind a blackhole): no close, no error
  const socketOf = (l: ResumableLink): import('node:stream').Duplex => (l as unknown as { socket: import('node:stream').Duplex }).socket;
  socketOf(rig.clientLink).pause();
  socketOf(rig.serverLink).pause();
  up.write('sent into the silence');
  await until(() => rig.clientLink.paused && rig.serverLink.paused, 5_000, 'both links paused by their keepalive');
  t.match(reasons[0], /no bytes on the connection for \d+ ms/, `the verdict: ${reasons[0]}`);
  t.notOk(rig.client.destroyed || rig.server.destroyed, 'the sessions live on');
  await rig.resume();
  const chunk = await within(new Promise<Buffer>((r) => down.once('data', r)), 5_000, 'data after resume');
  t.equal(chunk.toString(), 'sent into the silence', 'what was written into the silent connection arrives once, after the resume');
});
