// CONFIG (0x8): a session-level JSON object, negotiated by SETTINGS CONFIG (0x7). Codec round trips,
// the negotiation both ways (a peer that did not announce the setting never gets one), every split
// point of a CONFIG through the decoder, and hostile CONFIG frames (unannounced, oversized, not JSON,
// on a stream id).
import t from 'tap';
import { FrameType, MAX_CONFIG_PAYLOAD, Setting } from '../src/constants.js';
import { FrameDecoder, type DecoderSink } from '../src/decoder.js';
import { ProtocolError, SessionClosedError } from '../src/errors.js';
import { encodeFrame, writeHeader } from '../src/frame.js';
import { decodeConfig, decodeSettings, encodeConfig, encodeSettings } from '../src/payloads.js';
import { Session } from '../src/session.js';
import { duplexPair } from './fixtures/pair.js';
import { rawPeer } from './fixtures/raw-peer.js';
import { next, until, within } from './fixtures/streams.js';

function pair(client: { config?: boolean }, server: { config?: boolean }): [Session, Session] {
  const [a, b] = duplexPair();
  return [new Session(a, { role: 'client', ...client }), new Session(b, { role: 'server', ...server })];
}

t.test('codec: JSON objects round trip; non-objects and oversize are refused', async (t) => {
  for (const value of [{}, { ports: '9051-9053,10000', rev: 7 }, { nested: { a: [1, 2, 'é'] } }]) {
    t.same(decodeConfig(encodeConfig(value)), value, JSON.stringify(value));
  }
  t.throws(() => encodeConfig([] as unknown as Record<string, unknown>), TypeError);
  t.throws(() => encodeConfig({ big: 'x'.repeat(MAX_CONFIG_PAYLOAD) }), RangeError);
  t.throws(() => encodeConfig({ big: 'x'.repeat(100) }, 50), RangeError, 'a smaller peer limit');
  for (const bad of ['[1]', '"text"', 'not json', '']) {
    t.throws(() => decodeConfig(Buffer.from(bad)), ProtocolError, `refused: ${JSON.stringify(bad)}`);
  }
  t.throws(() => decodeConfig(Buffer.from([0x7b, 0xff, 0x7d])), /UTF-8/, 'invalid UTF-8');
});

t.test('SETTINGS announces CONFIG only on a session that takes it', async (t) => {
  const [a, b] = pair({ config: true }, {});
  await Promise.all([a.ready, b.ready]);
  t.equal(b.peer?.configMax, MAX_CONFIG_PAYLOAD, 'the server sees the agent take CONFIG up to 64 KiB');
  t.equal(a.peer?.configMax, 0, 'the agent sees a server that takes none');
  t.equal(b.peerTakesConfig, true);
  t.equal(a.peerTakesConfig, false);
  t.equal(a.sendConfig({ x: 1 }), false, 'nothing is sent to a peer that did not announce it');
  a.destroy();
  b.destroy();
  const values = decodeSettings(encodeSettings({ [Setting.CONFIG]: 4096 }, {})).values;
  t.equal(values.get(Setting.CONFIG), 4096, 'the id round trips');
});

t.test('CONFIG frames arrive in order, as objects, after SETTINGS', async (t) => {
  const [agent, server] = pair({ config: true }, {});
  const got: Record<string, unknown>[] = [];
  agent.on('config', (c) => got.push(c));
  await server.ready;
  t.equal(server.sendConfig({ rev: 1 }), true);
  t.equal(server.sendConfig(encodeConfig({ rev: 2 })), true, 'a pre-encoded payload (shared by many sessions)');
  const big = { ports: 'b'.repeat(60_000) };
  t.equal(server.sendConfig(big), true, 'larger than a control frame (16 KiB), within 64 KiB');
  await until(() => got.length === 3, 2_000, 'three configs');
  t.same(
    got.map((c) => c['rev'] ?? 'big'),
    [1, 2, 'big'],
  );
  t.equal((got[2]!['ports'] as string).length, 60_000);
  t.throws(() => server.sendConfig({ ports: 'c'.repeat(MAX_CONFIG_PAYLOAD) }), RangeError, 'above the peer limit: thrown, not sent');
  const stream = server.open({ host: '127.0.0.1', port: 1 });
  stream.on('error', () => {});
  server.sendConfig({ rev: 3 });
  await next(agent, 'config');
  t.equal(agent.destroyed, false, 'the session is fine');
  agent.destroy();
  server.destroy();
});

t.test('decoder: a CONFIG split at every point is delivered whole', async (t) => {
  const frame = encodeFrame(FrameType.CONFIG, 0, 0, encodeConfig({ node: '9051-9053', localhost: '' }));
  for (let cut = 1; cut < frame.length; cut++) {
    const seen: Buffer[] = [];
    const sink: DecoderSink = { onData: () => t.fail('no DATA'), onFrame: (type, _f, _id, p) => void (type === FrameType.CONFIG && seen.push(Buffer.from(p))) };
    const d = new FrameDecoder(sink, { maxFrameSize: 16_372, maxConfigPayload: MAX_CONFIG_PAYLOAD });
    d.push(frame.subarray(0, cut));
    d.push(frame.subarray(cut));
    if (seen.length !== 1 || !seen[0]!.equals(frame.subarray(12))) return t.fail(`split at ${cut}`);
  }
  t.pass(`every split of a ${frame.length}-byte CONFIG`);
  const old = new FrameDecoder({ onData: () => {}, onFrame: () => {} }, { maxFrameSize: 16_372 });
  let err: unknown;
  try {
    old.push(frame);
  } catch (e) {
    err = e;
  }
  t.equal((err as ProtocolError | undefined)?.wireCode, 'PROTOCOL_ERROR', 'a decoder that takes no CONFIG refuses it, as a version-1 peer does');
});

const hostile: Array<[string, Buffer, boolean, string]> = [
  ['CONFIG to a session that announced no CONFIG', encodeFrame(FrameType.CONFIG, 0, 0, encodeConfig({ a: 1 })), false, 'PROTOCOL_ERROR'],
  ['CONFIG on a stream id', encodeFrame(FrameType.CONFIG, 0, 1, encodeConfig({ a: 1 })), true, 'PROTOCOL_ERROR'],
  ['CONFIG that is not a JSON object', encodeFrame(FrameType.CONFIG, 0, 0, Buffer.from('[1,2]')), true, 'PROTOCOL_ERROR'],
  [
    'CONFIG above 64 KiB (header only)',
    (() => {
      const h = Buffer.alloc(12);
      writeHeader(h, 0, FrameType.CONFIG, 0, 0, MAX_CONFIG_PAYLOAD + 1);
      return h;
    })(),
    true,
    'FRAME_SIZE_ERROR',
  ],
];

for (const [name, frame, takes, code] of hostile) {
  t.test(`hostile: ${name} → GOAWAY ${code}`, async (t) => {
    const peer = rawPeer({ config: takes });
    let configs = 0;
    peer.session.on('config', () => configs++);
    peer.send(frame);
    const err = await within(peer.closed, 3_000, 'close');
    t.ok(err instanceof SessionClosedError);
    await until(() => peer.goAway() !== undefined, 2_000, 'GOAWAY');
    t.equal(peer.goAway()!.code, code);
    t.equal(configs, 0, 'no config emitted');
    t.same(peer.uncaught, []);
  });
}

t.test('hostile: a CONFIG flood ends in GOAWAY FLOOD', async (t) => {
  const peer = rawPeer({ config: true, maxControlPerSecond: 50 });
  peer.session.on('config', () => {});
  const frame = encodeFrame(FrameType.CONFIG, 0, 0, encodeConfig({ a: 1 }));
  for (let i = 0; i < 60; i++) peer.send(frame);
  await within(peer.closed, 3_000, 'close');
  await until(() => peer.goAway() !== undefined, 2_000, 'GOAWAY');
  t.equal(peer.goAway()!.code, 'FLOOD');
});
