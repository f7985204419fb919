// What a session assumes for the SETTINGS ids a peer leaves out (an older or smaller peer), and that
// the wire spec states the same values.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { CODEC_LZ4, FrameType, Setting } from '../src/constants.js';
import { encodeFrame } from '../src/frame.js';
import { encodeSettings } from '../src/payloads.js';
import { ABSENT_SETTINGS, peerSettingsFrom } from '../src/peer-settings.js';
import { openFrame, rawPeer } from './fixtures/raw-peer.js';
import { until } from './fixtures/streams.js';

const spec = readFileSync(new URL('../docs/spec.md', import.meta.url), 'utf8');

t.test('a first SETTINGS without ids: every value is the absent default', async (t) => {
  const peer = rawPeer({}, false);
  peer.send(encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettings({}, {})));
  await peer.session.ready;
  t.same(peer.session.peer, ABSENT_SETTINGS, 'the peer is taken to announce the absent defaults');
  t.equal(peer.session.peerTakesConfig, false, 'no CONFIG to a peer that did not announce it');
  // a stream the peer opens gets credit for its absent INITIAL_WINDOW: 65 536 bytes and no more
  const got = new Promise<number>((resolve) => peer.session.on('stream', (s) => (s.accept(), resolve(s.limit))));
  peer.send(openFrame(1));
  t.equal(await got, 65_536, 'the send credit of a stream is the absent INITIAL_WINDOW');
  peer.session.destroy();
});

t.test('a later SETTINGS changes only the ids it carries; CODECS keeps only known bits', async (t) => {
  const first = peerSettingsFrom(
    new Map([
      [Setting.MAX_STREAMS, 8],
      [Setting.CODECS, 0xff],
    ]),
    undefined,
  );
  t.same(first, { ...ABSENT_SETTINGS, maxStreams: 8, codecs: CODEC_LZ4 });
  const later = peerSettingsFrom(new Map([[Setting.KEEPALIVE_MS, 500]]), first);
  t.same(later, { ...first, keepaliveMs: 500 }, 'the ids left out keep what the peer announced before, not the defaults');
});

t.test('the spec lists the absent defaults the code assumes', async (t) => {
  const rows = new Map<string, string>();
  for (const m of spec.matchAll(/^\| 0x\d \| ([A-Z_]+) \| [^|]+ \| ([^|]+) \|$/gm)) rows.set(m[1]!, m[2]!.trim());
  // a cell is a number with spaces between thousands, optionally followed by ": what it means"
  const lead = (name: string): number => Number((rows.get(name) ?? '').split(':')[0]!.replace(/\s/g, ''));
  t.equal(rows.size, 7, 'one row per SETTINGS id');
  t.equal(lead('MAX_FRAME_SIZE'), ABSENT_SETTINGS.maxFrameSize);
  t.equal(lead('INITIAL_WINDOW'), ABSENT_SETTINGS.initialWindow);
  t.equal(lead('MAX_STREAMS'), ABSENT_SETTINGS.maxStreams);
  t.equal(lead('CODECS'), ABSENT_SETTINGS.codecs);
  t.equal(lead('KEEPALIVE_MS'), ABSENT_SETTINGS.keepaliveMs);
  t.equal(lead('VERSION'), ABSENT_SETTINGS.version);
  t.equal(lead('CONFIG'), ABSENT_SETTINGS.configMax);
});

t.test('a peer that announces no MAX_STREAMS may be sent 1 024 streams, and no more', async (t) => {
  const peer = rawPeer({ role: 'client' }, false);
  peer.send(encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettings({}, {})));
  await peer.session.ready;
  for (let i = 0; i < ABSENT_SETTINGS.maxStreams; i++) peer.session.open({ host: 'h', port: 1 }).on('error', () => {});
  t.throws(() => peer.session.open({ host: 'h', port: 1 }), { code: 'ERR_FRAMING_STREAM_LIMIT' }, 'the 1 025th open throws');
  await until(() => peer.frames().filter((f) => f.type === FrameType.OPEN).length === ABSENT_SETTINGS.maxStreams, 2_000, 'OPENs on the wire');
  peer.session.destroy();
});
