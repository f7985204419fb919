import t from 'tap';
import { Flag, FrameType, HEADER_SIZE, MAX_STREAM_ID } from '../src/constants.js';
import { describeFrame, flagsName, frameTypeName } from '../src/describe.js';
import { encodeFrame, readHeader, writeHeader } from '../src/frame.js';
import { prng, sameBytes, thrown } from './fixtures/prng.js';

const rnd = prng(11);
const cases: Array<[number, number, number, Buffer]> = [
  [FrameType.DATA, 0, 1, rnd.bytes(1000)],
  [FrameType.DATA, Flag.FIN | Flag.COMPRESSED | Flag.BLOCKED, MAX_STREAM_ID, rnd.bytes(3)],
  [FrameType.DATA, Flag.FIN, 2, Buffer.alloc(0)],
  [FrameType.WINDOW, 0, 3, rnd.bytes(8)],
  [FrameType.OPEN, 0, 5, Buffer.from('{"host":"a","port":1}')],
  [FrameType.OPEN_OK, 0, 6, Buffer.alloc(0)],
  [FrameType.RESET, 0, 7, rnd.bytes(20)],
  [FrameType.PING, 0, 0, rnd.bytes(8)],
  [FrameType.PING, Flag.ACK, 0, rnd.bytes(8)],
  [FrameType.GOAWAY, 0, 0, rnd.bytes(12)],
  [FrameType.SETTINGS, 0, 0, rnd.bytes(14)],
  [FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(0)],
];

t.test('every frame type round-trips through encodeFrame + readHeader', async (t) => {
  for (const [type, flags, streamId, payload] of cases) {
    const name = describeFrame(type, flags, streamId, payload.length);
    const frame = encodeFrame(type, flags, streamId, payload);
    t.equal(frame.length, HEADER_SIZE + payload.length, name);
    t.same(readHeader(frame), { type, flags, streamId, length: payload.length }, name);
    t.ok(sameBytes(frame.subarray(HEADER_SIZE), payload), `${name}: payload follows the header`);
    t.equal(frame.readUInt16BE(2), 0, `${name}: reserved is 0`);
  }
});

t.test('header bytes are big-endian at the documented offsets', async (t) => {
  const frame = encodeFrame(FrameType.RESET, 0x81, 0x01020304, Buffer.alloc(0x0a));
  t.same([...frame], [0x04, 0x81, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0x0a, ...Array(10).fill(0)]);
  t.same(encodeFrame(FrameType.OPEN_OK, 0, 9).length, HEADER_SIZE, 'no payload');
});

t.test('writeHeader and readHeader at an offset', async (t) => {
  const buf = Buffer.alloc(40, 0xee);
  writeHeader(buf, 20, FrameType.DATA, Flag.FIN, 0xfffffffe, 16_372);
  t.equal(buf[19], 0xee, 'bytes before untouched');
  t.equal(buf[32], 0xee, 'bytes after untouched');
  t.same(readHeader(buf, 20), { type: FrameType.DATA, flags: Flag.FIN, streamId: 0xfffffffe, length: 16_372 });
});

t.test('bad arguments throw RangeError', async (t) => {
  t.ok(thrown(() => readHeader(Buffer.alloc(11))) instanceof RangeError, 'short buffer');
  t.ok(thrown(() => readHeader(Buffer.alloc(20), 9)) instanceof RangeError, 'short after offset');
  t.ok(thrown(() => writeHeader(Buffer.alloc(12), 0, 256, 0, 1, 0)) instanceof RangeError, 'type > u8');
  t.ok(thrown(() => writeHeader(Buffer.alloc(12), 0, 0, 0, 2 ** 32, 0)) instanceof RangeError, 'stream id > u32');
  t.ok(thrown(() => writeHeader(Buffer.alloc(12), 0, 0, 0, 1, -1)) instanceof RangeError, 'negative length');
  t.ok(thrown(() => writeHeader(Buffer.alloc(12), 1, 0, 0, 1, 0)) instanceof RangeError, 'no room');
});

t.test('describeFrame names types and flags', async (t) => {
  t.equal(describeFrame(FrameType.DATA, Flag.FIN | Flag.BLOCKED, 3, 16372), 'DATA#3 len=16372 FIN|BLOCKED');
  t.equal(describeFrame(FrameType.DATA, Flag.COMPRESSED, 1, 10), 'DATA#1 len=10 COMPRESSED');
  t.equal(describeFrame(FrameType.PING, Flag.ACK, 0, 8), 'PING#0 len=8 ACK');
  t.equal(describeFrame(FrameType.OPEN_OK, 0, 2, 0), 'OPEN_OK#2 len=0');
  t.equal(describeFrame(FrameType.WINDOW, 0x10, 2, 8), 'WINDOW#2 len=8 0x10');
  t.equal(flagsName(FrameType.SETTINGS, Flag.ACK | 0x80), 'ACK|0x80');
  t.equal(frameTypeName(FrameType.GOAWAY), 'GOAWAY');
  t.equal(frameTypeName(0x1f), 'UNKNOWN(0x1f)');
});
