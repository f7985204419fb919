// Hostile peers: raw frames written at one Session. Session-level faults end in a GOAWAY with the
// right wire code; stream-level faults reset that stream only; nothing escapes as an exception.
import t, { type Test } from 'tap';
import { Flag, FrameType, Setting } from '../src/constants.js';
import { SessionClosedError, StreamResetError } from '../src/errors.js';
import { encodeFrame, writeHeader } from '../src/frame.js';
import { compressPayload } from '../src/lz4.js';
import { encodeSettings } from '../src/payloads.js';
import type { Stream } from '../src/stream.js';
import { openFrame, rawPeer, type RawPeer } from './fixtures/raw-peer.js';
import { until, within } from './fixtures/streams.js';

const settle = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

function data(id: number, payload: Buffer | string, flags = 0): Buffer {
  return encodeFrame(FrameType.DATA, flags, id, Buffer.from(payload));
}

/** Accepts every stream and collects what arrives, per id; ids in `paused` are accepted but not read. */
function collect(peer: RawPeer, paused: number[] = []): { got: Map<number, Buffer[]>; errors: Map<number, StreamResetError>; ended: Set<number> } {
  const got = new Map<number, Buffer[]>();
  const errors = new Map<number, StreamResetError>();
  const ended = new Set<number>();
  peer.session.on('stream', (s: Stream) => {
    s.accept();
    got.set(s.id, []);
    s.on('error', (e: StreamResetError) => errors.set(s.id, e));
    s.on('end', () => ended.add(s.id));
    if (!paused.includes(s.id)) s.on('data', (b: Buffer) => got.get(s.id)!.push(b));
  });
  return { got, errors, ended };
}

const text = (parts: Buffer[] | undefined): string => Buffer.concat((parts ?? []) as Uint8Array[]).toString();

async function expectGoAway(t: Test, peer: RawPeer, code: string): Promise<void> {
  const err = await within(peer.closed, 3_000, 'session close');
  t.ok(err instanceof SessionClosedError, 'closed with SessionClosedError');
  t.equal((err as SessionClosedError).wireCode, code, `session closed with ${code}`);
  await until(() => peer.goAway() !== undefined, 2_000, 'GOAWAY on the wire');
  t.equal(peer.goAway()!.code, code, `GOAWAY carries ${code}`);
  t.same(peer.uncaught, [], 'no uncaught exception');
}

t.test('OPEN with the wrong id parity', async (t) => {
  const peer = rawPeer();
  collect(peer);
  peer.send(openFrame(2));
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
});

t.test('OPEN reusing an id', async (t) => {
  const peer = rawPeer();
  const { got } = collect(peer);
  peer.send(openFrame(1), openFrame(3), openFrame(3));
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
  t.equal(got.size, 2, 'the two valid OPENs were admitted before');
  t.equal(peer.goAway()!.lastStreamId, 3, 'GOAWAY names the last accepted id');
});

t.test('OPEN with a lower id than before', async (t) => {
  const peer = rawPeer();
  collect(peer);
  peer.send(openFrame(5), openFrame(3));
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
});

t.test('OPEN before SETTINGS', async (t) => {
  const peer = rawPeer({}, false);
  collect(peer);
  peer.send(openFrame(1));
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
});

t.test('DATA for a stream that was never opened', async (t) => {
  const peer = rawPeer();
  collect(peer);
  peer.send(openFrame(1), data(7, 'who am I'));
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
});

t.test('unknown frame type', async (t) => {
  const peer = rawPeer();
  const bogus = Buffer.alloc(12);
  writeHeader(bogus, 0, 0x42, 0, 0, 0);
  peer.send(bogus);
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
});

t.test('credit overrun on one stream: FLOW_CONTROL_ERROR there, the other stream intact', async (t) => {
  const initialWindow = 16 * 1024;
  const peer = rawPeer({ initialWindow });
  const { got, errors } = collect(peer, [1]);
  peer.send(openFrame(1), openFrame(3), data(3, 'first half, '));
  const chunk = Buffer.alloc(8 * 1024, 1);
  for (let i = 0; i < 3; i++) peer.send(data(1, chunk)); // 24 KiB on a 16 KiB window
  peer.send(data(3, 'second half', Flag.FIN));
  await until(() => peer.resets().has(1), 2_000, 'RESET for stream 1');
  t.equal(peer.resets().get(1)!.code, 'FLOW_CONTROL_ERROR');
  t.equal(errors.get(1)?.wireCode, 'FLOW_CONTROL_ERROR', 'the local stream errors too');
  t.equal(errors.get(1)?.remote, false);
  await until(() => text(got.get(3)) === 'first half, second half', 2_000, 'stream 3 data');
  t.equal(text(got.get(3)), 'first half, second half', 'the other stream is intact');
  peer.send(data(1, 'late frame for the reset stream'));
  await settle();
  t.equal(peer.session.destroyed, false, 'the session survives');
  t.equal(peer.resets().has(3), false, 'stream 3 was not reset');
  t.same(peer.uncaught, []);
  peer.session.destroy();
});

t.test('oversize DATA frame', async (t) => {
  const peer = rawPeer({ maxFrameSize: 4096 });
  collect(peer);
  peer.send(openFrame(1), data(1, Buffer.alloc(4097)));
  await expectGoAway(t, peer, 'FRAME_SIZE_ERROR');
});

t.test('oversize control frame', async (t) => {
  const peer = rawPeer();
  const header = Buffer.alloc(12);
  writeHeader(header, 0, FrameType.SETTINGS, 0, 0, 1024 * 1024 * 1024);
  peer.send(header);
  await expectGoAway(t, peer, 'FRAME_SIZE_ERROR');
});

t.test('compressed-DATA bomb: COMPRESSION_ERROR on that stream, others intact', async (t) => {
  const peer = rawPeer();
  const { got, errors } = collect(peer);
  const before = process.memoryUsage().arrayBuffers;
  const bomb = Buffer.alloc(16);
  bomb.writeUInt32BE(1024 * 1024 * 1024, 0); // declares 1 GiB raw
  bomb.fill(0xff, 4);
  const liar = compressPayload(Buffer.alloc(8000, 7))!; // honest block, lying length
  liar.writeUInt32BE(9000, 0);
  const good = compressPayload(Buffer.from('x'.repeat(5000)))!;
  peer.send(openFrame(1), openFrame(3), openFrame(5));
  peer.send(encodeFrame(FrameType.DATA, Flag.COMPRESSED, 1, bomb));
  peer.send(encodeFrame(FrameType.DATA, Flag.COMPRESSED, 5, liar));
  peer.send(encodeFrame(FrameType.DATA, Flag.COMPRESSED | Flag.FIN, 3, good));
  await until(() => peer.resets().size === 2, 2_000, 'two RESETs');
  t.equal(peer.resets().get(1)?.code, 'COMPRESSION_ERROR', 'declared length beyond max frame');
  t.equal(peer.resets().get(5)?.code, 'COMPRESSION_ERROR', 'block that does not fill its declared length');
  t.equal(errors.get(1)?.wireCode, 'COMPRESSION_ERROR');
  await until(() => text(got.get(3)).length === 5000, 2_000, 'stream 3');
  t.equal(text(got.get(3)), 'x'.repeat(5000), 'the compressed stream next to it decodes');
  t.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024, 'no large allocation');
  t.equal(peer.session.destroyed, false);
  t.same(peer.uncaught, []);
  peer.session.destroy();
});

t.test('COMPRESSED DATA when LZ4 was not negotiated', async (t) => {
  const peer = rawPeer({ compression: false });
  collect(peer);
  peer.send(openFrame(1), encodeFrame(FrameType.DATA, Flag.COMPRESSED, 1, compressPayload(Buffer.alloc(1000))!));
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
});

t.test('PING flood', async (t) => {
  const peer = rawPeer({ maxControlPerSecond: 50 });
  const ping = encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8));
  for (let i = 0; i < 60; i++) peer.send(ping);
  await expectGoAway(t, peer, 'FLOOD');
  const acks = peer.frames().filter((f) => f.type === FrameType.PING && f.flags & Flag.ACK).length;
  t.ok(acks <= 50, `answered at most the allowed PINGs (${acks})`);
});

t.test('PINGs under the limit are answered', async (t) => {
  const peer = rawPeer({ maxControlPerSecond: 50 });
  for (let i = 0; i < 40; i++) peer.send(encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8, i)));
  await until(() => peer.frames().filter((f) => f.type === FrameType.PING && f.flags & Flag.ACK).length === 40, 2_000, 'acks');
  t.equal(peer.session.destroyed, false);
  peer.session.destroy();
});

t.test('SETTINGS flood', async (t) => {
  const peer = rawPeer({ maxControlPerSecond: 50 });
  const settings = encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettings({ [Setting.INITIAL_WINDOW]: 256 * 1024 }));
  for (let i = 0; i < 60; i++) peer.send(settings);
  await expectGoAway(t, peer, 'FLOOD');
});

t.test('RESET flood', async (t) => {
  const peer = rawPeer({ maxControlPerSecond: 50 });
  collect(peer);
  peer.send(openFrame(1));
  const reset = encodeFrame(FrameType.RESET, 0, 1, Buffer.from([0, 0, 0, 7]));
  for (let i = 0; i < 60; i++) peer.send(reset);
  await expectGoAway(t, peer, 'FLOOD');
});

t.test('SETTINGS changing INITIAL_WINDOW', async (t) => {
  const peer = rawPeer();
  peer.send(encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettings({ [Setting.INITIAL_WINDOW]: 1024 })));
  await expectGoAway(t, peer, 'PROTOCOL_ERROR');
});

t.test('too many concurrent OPENs: the excess is refused, the first ones work', async (t) => {
  const peer = rawPeer({ maxStreams: 4 });
  const { got, ended } = collect(peer);
  const ids = [1, 3, 5, 7, 9, 11];
  peer.send(...ids.map((id) => openFrame(id)));
  peer.send(...ids.map((id) => data(id, `to ${id}`, Flag.FIN)));
  await until(() => peer.resets().size === 2 && ended.size === 4, 2_000, 'refusals and data');
  t.same([...peer.resets().keys()], [9, 11]);
  t.equal(peer.resets().get(9)!.code, 'REFUSED');
  for (const id of [1, 3, 5, 7]) t.equal(text(got.get(id)), `to ${id}`, `stream ${id} works`);
  const okIds = peer
    .frames()
    .filter((f) => f.type === FrameType.OPEN_OK)
    .map((f) => f.streamId);
  t.same(okIds, [1, 3, 5, 7], 'OPEN_OK only for the admitted ones');
  t.equal(peer.session.destroyed, false);
  t.same(peer.uncaught, []);
  peer.session.destroy();
});

t.test('malformed OPEN metadata: RESET PROTOCOL_ERROR for that stream only', async (t) => {
  const peer = rawPeer();
  const { got, ended } = collect(peer);
  peer.send(
    encodeFrame(FrameType.OPEN, 0, 1, Buffer.from('{"host": "x", "port": ')),
    encodeFrame(FrameType.OPEN, 0, 3, Buffer.from('{"host": "", "port": 80}')),
    encodeFrame(FrameType.OPEN, 0, 5, Buffer.from([0xff, 0xfe])),
    openFrame(7),
    data(7, 'fine', Flag.FIN),
  );
  await until(() => peer.resets().size === 3 && ended.has(7), 2_000, 'three resets and one stream');
  for (const id of [1, 3, 5]) t.equal(peer.resets().get(id)!.code, 'PROTOCOL_ERROR', `stream ${id} reset`);
  t.equal(text(got.get(7)), 'fine');
  t.equal(got.size, 1, 'no Stream emitted for the malformed OPENs');
  t.equal(peer.session.destroyed, false);
  t.same(peer.uncaught, []);
  peer.session.destroy();
});

t.test('a throwing stream listener resets that stream only', async (t) => {
  const peer = rawPeer();
  peer.session.on('stream', (s: Stream) => {
    if (s.id === 1) throw new Error('listener bug');
    s.accept();
    s.on('error', () => {});
  });
  peer.send(openFrame(1), openFrame(3));
  await until(() => peer.resets().has(1), 2_000, 'reset');
  t.equal(peer.resets().get(1)!.code, 'INTERNAL_ERROR');
  t.equal(peer.session.streams.has(3), true);
  t.equal(peer.session.destroyed, false);
  peer.session.destroy();
});
