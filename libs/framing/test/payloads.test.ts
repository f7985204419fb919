import t from 'tap';
import { MAX_CONTROL_PAYLOAD, MAX_REASON_BYTES, MAX_STREAM_ID, Setting } from '../src/constants.js';
import { ProtocolError } from '../src/errors.js';
import {
  decodeGoAway,
  decodeOpen,
  decodeReset,
  decodeSettings,
  decodeWindow,
  encodeGoAway,
  encodeOpen,
  encodeReset,
  encodeSettings,
  encodeWindow,
  truncateUtf8,
  type OpenMeta,
} from '../src/payloads.js';
import { concat, thrown } from './fixtures/prng.js';

t.test('WINDOW round trips', async (t) => {
  for (const offset of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]) {
    const p = encodeWindow(offset);
    t.equal(p.length, 8);
    t.equal(decodeWindow(p), offset, `${offset}`);
  }
  t.same([...encodeWindow(0x0102_0304_0506)], [0, 0, 1, 2, 3, 4, 5, 6], 'u64 big-endian');
});

t.test('RESET round trips', async (t) => {
  for (const [code, reason] of [
    [0, ''],
    [7, 'caller went away'],
    [0xffffffff, 'ünïcödé ✓ 🚀'],
  ] as const) {
    t.same(decodeReset(encodeReset(code, reason)), { code, reason }, `${code} ${reason}`);
  }
});

t.test('GOAWAY round trips', async (t) => {
  for (const [last, code, reason] of [
    [0, 0, ''],
    [MAX_STREAM_ID, 9, 'flood'],
    [12, 13, 'draining 🚧'],
  ] as const) {
    t.same(decodeGoAway(encodeGoAway(last, code, reason)), { lastStreamId: last, code, reason });
  }
});

t.test('reasons are truncated to MAX_REASON_BYTES on a character boundary', async (t) => {
  for (const ch of ['a', 'é', '✓', '🚀']) {
    const long = ch.repeat(2000);
    const { reason } = decodeReset(encodeReset(1, long));
    t.ok(Buffer.byteLength(reason) <= MAX_REASON_BYTES, `${ch}: ${Buffer.byteLength(reason)} bytes`);
    t.ok(Buffer.byteLength(reason) > MAX_REASON_BYTES - 4, `${ch}: not cut more than one character`);
    t.ok(long.startsWith(reason), `${ch}: a prefix of whole characters`);
    t.equal(decodeGoAway(encodeGoAway(1, 1, long)).reason, reason);
  }
  t.equal(truncateUtf8('ab✓', 4).toString(), 'ab');
});

t.test('SETTINGS round trips', async (t) => {
  const values = { [Setting.MAX_FRAME_SIZE]: 16_372, [Setting.INITIAL_WINDOW]: 262_144, [Setting.CODECS]: 1, 0x7777: 0xffffffff };
  const hello = { nodeName: 'edge-1', nodeIps: ['10.0.0.5'], version: 1 };
  const a = decodeSettings(encodeSettings(values, hello));
  t.same(Object.fromEntries(a.values), values, 'unknown ids kept');
  t.same(a.hello, hello);
  const b = decodeSettings(encodeSettings({}));
  t.equal(b.values.size, 0);
  t.equal(b.hello, undefined, 'no hello');
  t.equal(encodeSettings({}).length, 2);
  t.same([...encodeSettings({ [Setting.VERSION]: 1 })], [0, 1, 0, 6, 0, 0, 0, 1], 'u16 count | u16 id | u32 value');
});

t.test('OPEN round trips', async (t) => {
  const metas: OpenMeta[] = [
    { host: '10.0.0.5', port: 10250 },
    { host: 'localhost', port: 0, kind: 'https', traceId: 'abc', compress: true },
    { host: 'h'.repeat(255), port: 65535, compress: false, extra: { nested: [1, 2] } },
  ];
  for (const meta of metas) t.same(decodeOpen(encodeOpen(meta)), meta);
});

const u32 = (...values: number[]): Buffer =>
  concat(
    values.map((v) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(v);
      return b;
    }),
  );
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const settings = (pairs: Array<[number, number]>, count = pairs.length, tail: Buffer = Buffer.alloc(0)): Buffer => {
  const head = Buffer.alloc(2 + pairs.length * 6);
  head.writeUInt16BE(count, 0);
  pairs.forEach(([id, v], i) => {
    head.writeUInt16BE(id, 2 + i * 6);
    head.writeUInt32BE(v, 4 + i * 6);
  });
  return concat([head, tail]);
};
const badUtf8: Buffer = Buffer.from([0xc3, 0x28]);

const malformed: Array<[string, () => unknown, string]> = [
  ['WINDOW of 7 bytes', () => decodeWindow(Buffer.alloc(7)), 'FRAME_SIZE_ERROR'],
  ['WINDOW of 9 bytes', () => decodeWindow(Buffer.alloc(9)), 'FRAME_SIZE_ERROR'],
  ['WINDOW above 2^53-1', () => decodeWindow(u32(0x20_0000, 0)), 'PROTOCOL_ERROR'],
  ['RESET of 3 bytes', () => decodeReset(Buffer.alloc(3)), 'FRAME_SIZE_ERROR'],
  ['RESET reason too long', () => decodeReset(concat([u32(1), Buffer.alloc(MAX_REASON_BYTES + 1, 0x61)])), 'FRAME_SIZE_ERROR'],
  ['RESET reason not UTF-8', () => decodeReset(concat([u32(1), badUtf8])), 'PROTOCOL_ERROR'],
  ['GOAWAY of 7 bytes', () => decodeGoAway(Buffer.alloc(7)), 'FRAME_SIZE_ERROR'],
  ['GOAWAY lastStreamId 2^31', () => decodeGoAway(u32(0x8000_0000, 0)), 'PROTOCOL_ERROR'],
  ['GOAWAY reason too long', () => decodeGoAway(concat([u32(1, 1), Buffer.alloc(MAX_REASON_BYTES + 1, 0x61)])), 'FRAME_SIZE_ERROR'],
  ['GOAWAY reason not UTF-8', () => decodeGoAway(concat([u32(1, 1), badUtf8])), 'PROTOCOL_ERROR'],
  ['SETTINGS of 1 byte', () => decodeSettings(Buffer.alloc(1)), 'FRAME_SIZE_ERROR'],
  ['SETTINGS count past the payload', () => decodeSettings(settings([[1, 16_372]], 2)), 'FRAME_SIZE_ERROR'],
  ['SETTINGS count with a partial pair', () => decodeSettings(settings([[1, 16_372]], 1).subarray(0, 7)), 'FRAME_SIZE_ERROR'],
  [
    'SETTINGS duplicate id',
    () =>
      decodeSettings(
        settings([
          [2, 1],
          [2, 2],
        ]),
      ),
    'PROTOCOL_ERROR',
  ],
  ['SETTINGS MAX_FRAME_SIZE too small', () => decodeSettings(settings([[Setting.MAX_FRAME_SIZE, 1023]])), 'PROTOCOL_ERROR'],
  ['SETTINGS MAX_FRAME_SIZE too large', () => decodeSettings(settings([[Setting.MAX_FRAME_SIZE, 16 * 1024 * 1024 + 1]])), 'PROTOCOL_ERROR'],
  ['SETTINGS hello not JSON', () => decodeSettings(settings([], 0, Buffer.from('{nope'))), 'PROTOCOL_ERROR'],
  ['SETTINGS hello an array', () => decodeSettings(settings([], 0, json([1]))), 'PROTOCOL_ERROR'],
  ['SETTINGS hello null', () => decodeSettings(settings([], 0, json(null))), 'PROTOCOL_ERROR'],
  ['SETTINGS hello not UTF-8', () => decodeSettings(settings([], 0, badUtf8)), 'PROTOCOL_ERROR'],
  ['OPEN empty', () => decodeOpen(Buffer.alloc(0)), 'PROTOCOL_ERROR'],
  ['OPEN not JSON', () => decodeOpen(Buffer.from('host=a')), 'PROTOCOL_ERROR'],
  ['OPEN not UTF-8', () => decodeOpen(badUtf8), 'PROTOCOL_ERROR'],
  ['OPEN a string', () => decodeOpen(json('x')), 'PROTOCOL_ERROR'],
  ['OPEN an array', () => decodeOpen(json([{ host: 'a', port: 1 }])), 'PROTOCOL_ERROR'],
  ['OPEN without host', () => decodeOpen(json({ port: 1 })), 'PROTOCOL_ERROR'],
  ['OPEN empty host', () => decodeOpen(json({ host: '', port: 1 })), 'PROTOCOL_ERROR'],
  ['OPEN host of 256', () => decodeOpen(json({ host: 'h'.repeat(256), port: 1 })), 'PROTOCOL_ERROR'],
  ['OPEN host a number', () => decodeOpen(json({ host: 1, port: 1 })), 'PROTOCOL_ERROR'],
  ['OPEN without port', () => decodeOpen(json({ host: 'a' })), 'PROTOCOL_ERROR'],
  ['OPEN port 65536', () => decodeOpen(json({ host: 'a', port: 65536 })), 'PROTOCOL_ERROR'],
  ['OPEN port -1', () => decodeOpen(json({ host: 'a', port: -1 })), 'PROTOCOL_ERROR'],
  ['OPEN port 1.5', () => decodeOpen(json({ host: 'a', port: 1.5 })), 'PROTOCOL_ERROR'],
  ['OPEN port a string', () => decodeOpen(json({ host: 'a', port: '80' })), 'PROTOCOL_ERROR'],
  ['OPEN kind a number', () => decodeOpen(json({ host: 'a', port: 1, kind: 3 })), 'PROTOCOL_ERROR'],
  ['OPEN kind null', () => decodeOpen(json({ host: 'a', port: 1, kind: null })), 'PROTOCOL_ERROR'],
  ['OPEN kind of 256', () => decodeOpen(json({ host: 'a', port: 1, kind: 'k'.repeat(256) })), 'PROTOCOL_ERROR'],
  ['OPEN traceId of 256', () => decodeOpen(json({ host: 'a', port: 1, traceId: 't'.repeat(256) })), 'PROTOCOL_ERROR'],
  ['OPEN traceId an object', () => decodeOpen(json({ host: 'a', port: 1, traceId: {} })), 'PROTOCOL_ERROR'],
  ['OPEN compress a string', () => decodeOpen(json({ host: 'a', port: 1, compress: 'yes' })), 'PROTOCOL_ERROR'],
];

t.test('malformed payloads throw ProtocolError with the right wire code', async (t) => {
  for (const [name, decode, wireCode] of malformed) {
    const err = thrown(decode);
    t.ok(err instanceof ProtocolError, name);
    t.equal((err as ProtocolError).wireCode, wireCode, name);
    t.equal((err as ProtocolError).code, `ERR_FRAMING_${wireCode}`, name);
  }
});

t.test('encoders reject what the peer would reject', async (t) => {
  const cases: Array<[string, () => unknown, new (...a: never[]) => Error]> = [
    ['window offset -1', () => encodeWindow(-1), RangeError],
    ['window offset 2^53', () => encodeWindow(2 ** 53), RangeError],
    ['window offset 1.5', () => encodeWindow(1.5), RangeError],
    ['RESET code 2^32', () => encodeReset(2 ** 32, ''), RangeError],
    ['GOAWAY lastStreamId 2^31', () => encodeGoAway(2 ** 31, 0, ''), RangeError],
    ['setting value -1', () => encodeSettings({ 1: -1 }), RangeError],
    ['setting id 65536', () => encodeSettings({ 65536: 1 }), RangeError],
    ['hello an array', () => encodeSettings({}, [1]), TypeError],
    ['hello too large', () => encodeSettings({}, { x: 'x'.repeat(MAX_CONTROL_PAYLOAD) }), RangeError],
    ['OPEN without host', () => encodeOpen({ host: '', port: 1 }), TypeError],
    ['OPEN bad port', () => encodeOpen({ host: 'a', port: 70000 }), TypeError],
    ['OPEN too large', () => encodeOpen({ host: 'a', port: 1, blob: 'x'.repeat(MAX_CONTROL_PAYLOAD) }), RangeError],
  ];
  for (const [name, fn, type] of cases) t.ok(thrown(fn) instanceof type, name);
});
