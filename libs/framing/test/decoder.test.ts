import t from 'tap';
import { Flag, FrameType, HEADER_SIZE } from '../src/constants.js';
import { FrameDecoder, type DecoderSink } from '../src/decoder.js';
import { describeFrame } from '../src/describe.js';
import { ProtocolError } from '../src/errors.js';
import { encodeFrame, writeHeader } from '../src/frame.js';
import { Collector, encodeAll, mixedFrames, MIXED_OPTIONS, type Frame } from './fixtures/mixed.js';
import { oracleDecode, type OracleFrame } from './fixtures/oracle.js';
import { concat, prng, sameBytes, thrown } from './fixtures/prng.js';

const frames = mixedFrames();
const bytes = encodeAll(frames);
const oracle = oracleDecode([bytes], MIXED_OPTIONS);

/** First difference between decoded frames and the oracle's, or null. */
function diff(got: readonly Frame[], want: readonly Frame[]): string | null {
  if (got.length !== want.length) return `${got.length} frames, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (g.type !== w.type || g.flags !== w.flags || g.streamId !== w.streamId || !sameBytes(g.payload, w.payload)) {
      return `frame ${i}: got ${describeFrame(g.type, g.flags, g.streamId, g.payload.length)}, want ${describeFrame(w.type, w.flags, w.streamId, w.payload.length)}`;
    }
  }
  return null;
}

function decodeChunks(chunks: readonly Buffer[], options = MIXED_OPTIONS): { sink: Collector; decoder: FrameDecoder } {
  const sink = new Collector();
  const decoder = new FrameDecoder(sink, options);
  for (const chunk of chunks) {
    sink.chunk = chunk;
    decoder.push(chunk);
  }
  return { sink, decoder };
}

t.test('the oracle reads back the frames that were encoded', async (t) => {
  t.equal(oracle.error, null);
  t.equal(oracle.pending, 0);
  t.equal(diff(oracle.frames, frames), null);
  t.ok(frames.some((f) => f.type === FrameType.DATA && f.payload.length === 100_000));
  t.ok(frames.some((f) => f.type === FrameType.DATA && f.flags & Flag.COMPRESSED));
  for (const type of Object.values(FrameType))
    t.ok(
      frames.some((f) => f.type === type),
      `has ${describeFrame(type, 0, 0, 0)}`,
    );
});

t.test('(a) fed whole', async (t) => {
  const { sink, decoder } = decodeChunks([bytes]);
  t.equal(diff(sink.frames, oracle.frames), null);
  t.same(sink.problems, []);
  t.ok(decoder.idle);
  t.equal(decoder.buffered, 0);
});

/** Checks pieces by position: a DATA piece must be the view of the stream at the oracle's payload offset. */
class PositionSink implements DecoderSink {
  index = 0;
  got = 0;
  chunk: Buffer = bytes;
  failure: string | null = null;
  constructor(private readonly want: readonly OracleFrame[]) {}
  onData(streamId: number, flags: number, piece: Buffer, last: boolean): void {
    const w = this.want[this.index];
    const where = piece.byteOffset - bytes.byteOffset;
    const c = this.chunk;
    const inChunk = piece.byteOffset >= c.byteOffset && piece.byteOffset + piece.length <= c.byteOffset + c.length;
    const ok = w !== undefined && w.type === FrameType.DATA && w.flags === flags && w.streamId === streamId;
    if (!ok || (piece.length > 0 && (piece.buffer !== bytes.buffer || !inChunk || where !== w.payloadOffset + this.got))) {
      this.failure ??= `frame ${this.index}: DATA piece at ${where}`;
    }
    this.got += piece.length;
    if (!last) return;
    if (w !== undefined && this.got !== w.payload.length) this.failure ??= `frame ${this.index}: ${this.got} DATA bytes`;
    this.index++;
    this.got = 0;
  }
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    const w = this.want[this.index++];
    if (w === undefined || w.type !== type || w.flags !== flags || w.streamId !== streamId || !sameBytes(w.payload, payload)) {
      this.failure ??= `frame ${this.index - 1}: ${describeFrame(type, flags, streamId, payload.length)}`;
    }
  }
}

t.test('(b) split at every point into two chunks', async (t) => {
  let failures = 0;
  let first: string | null = null;
  for (let i = 0; i <= bytes.length; i++) {
    const sink = new PositionSink(oracle.frames);
    const decoder = new FrameDecoder(sink, MIXED_OPTIONS);
    sink.chunk = bytes.subarray(0, i);
    decoder.push(sink.chunk);
    sink.chunk = bytes.subarray(i);
    decoder.push(sink.chunk);
    const failure = sink.failure ?? (sink.index !== oracle.frames.length || !decoder.idle ? `ended at frame ${sink.index}` : null);
    if (failure !== null) {
      failures++;
      first ??= `split ${i}: ${failure}`;
    }
  }
  t.equal(failures, 0, first ?? `${bytes.length + 1} split points`);
});

t.test('(c) byte by byte', async (t) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  const { sink, decoder } = decodeChunks(chunks);
  t.equal(diff(sink.frames, oracle.frames), null);
  t.same(sink.problems, []);
  t.ok(decoder.idle);
  const dataBytes = frames.filter((f) => f.type === FrameType.DATA && !(f.flags & Flag.COMPRESSED));
  const emptyOnes = dataBytes.filter((f) => f.payload.length === 0).length;
  t.equal(sink.dataPieces, dataBytes.reduce((n, f) => n + f.payload.length, 0) + emptyOnes, 'one onData per DATA byte');
});

t.test('(d) seeded random splits, each chunk in its own ArrayBuffer', async (t) => {
  for (let seed = 1; seed <= 24; seed++) {
    const rnd = prng(seed);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = Math.min(bytes.length - at, 1 + rnd.int(rnd.next() < 0.5 ? 40 : 20_000));
      const chunk = Buffer.alloc(n); // not pooled: its own ArrayBuffer
      chunk.set(bytes.subarray(at, at + n));
      chunks.push(chunk);
      at += n;
    }
    const { sink, decoder } = decodeChunks(chunks);
    t.equal(diff(sink.frames, oracle.frames), null, `seed ${seed}: ${chunks.length} chunks`);
    t.same(sink.problems, [], `seed ${seed}: DATA pieces are views into their chunk`);
    t.ok(decoder.idle);
  }
});

t.test('a 16 KiB DATA over 3 chunks gives 3 onData calls, no copy', async (t) => {
  const payload = prng(3).bytes(16_372);
  const frame = encodeFrame(FrameType.DATA, Flag.FIN, 5, payload);
  const chunks = [frame.subarray(0, 5000), frame.subarray(5000, 11000), frame.subarray(11000)];
  const calls: Array<[number, number, number, boolean, boolean]> = [];
  const decoder = new FrameDecoder(
    {
      onData: (id, flags, piece, last) => calls.push([id, flags, piece.length, last, piece.buffer === frame.buffer]),
      onFrame: () => t.fail('no control frame'),
    },
    { maxFrameSize: 16_372 },
  );
  chunks.forEach((c) => decoder.push(c));
  t.same(calls, [
    [5, Flag.FIN, 5000 - HEADER_SIZE, false, true],
    [5, Flag.FIN, 6000, false, true],
    [5, Flag.FIN, frame.length - 11000, true, true],
  ]);
});

t.test('empty frames are delivered as soon as their header is complete', async (t) => {
  const got: string[] = [];
  const decoder = new FrameDecoder(
    {
      onData: (id, flags, piece, last) => got.push(`data ${id} ${flags} ${piece.length} ${last}`),
      onFrame: (type, flags, id, p) => got.push(`frame ${type} ${flags} ${id} ${p.length}`),
    },
    { maxFrameSize: 1024 },
  );
  const fin = encodeFrame(FrameType.DATA, Flag.FIN, 3);
  decoder.push(fin.subarray(0, 11));
  t.same(got, []);
  t.notOk(decoder.idle);
  t.equal(decoder.buffered, 11);
  decoder.push(fin.subarray(11));
  decoder.push(encodeFrame(FrameType.OPEN_OK, 0, 3));
  t.same(got, ['data 3 1 0 true', `frame ${FrameType.OPEN_OK} 0 3 0`]);
  t.ok(decoder.idle);
  t.equal(decoder.buffered, 0);
});

t.test('buffered and idle track partial frames', async (t) => {
  const decoder = new FrameDecoder({ onData: () => {}, onFrame: () => {} }, { maxFrameSize: 1024 });
  const open = encodeFrame(FrameType.OPEN, 0, 1, Buffer.alloc(100, 0x20));
  decoder.push(open.subarray(0, 5));
  t.equal(decoder.buffered, 5);
  decoder.push(open.subarray(5, 40));
  t.equal(decoder.buffered, 28, 'reassembly bytes of the OPEN payload');
  decoder.push(open.subarray(40));
  t.ok(decoder.idle);
  const data = encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(500));
  decoder.push(data.subarray(0, 100));
  t.equal(decoder.buffered, 0, 'DATA is cut through, nothing held');
  t.notOk(decoder.idle);
  decoder.push(data.subarray(100));
  t.ok(decoder.idle);
});

function header(type: number, flags: number, streamId: number, length: number): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  writeHeader(h, 0, type, flags, streamId, length);
  return h;
}

const malformed: Array<[string, Buffer, string]> = [
  ['unknown type 8', header(8, 0, 1, 0), 'PROTOCOL_ERROR'],
  ['unknown type 0xff', header(0xff, 0, 0, 0), 'PROTOCOL_ERROR'],
  ['DATA over max frame size', header(FrameType.DATA, 0, 1, 1025), 'FRAME_SIZE_ERROR'],
  ['compressed DATA over max frame size', header(FrameType.DATA, Flag.COMPRESSED, 1, 1025), 'FRAME_SIZE_ERROR'],
  ['OPEN over max control payload', header(FrameType.OPEN, 0, 1, 2049), 'FRAME_SIZE_ERROR'],
  ['RESET over max control payload', header(FrameType.RESET, 0, 1, 2049), 'FRAME_SIZE_ERROR'],
  ['GOAWAY over max control payload', header(FrameType.GOAWAY, 0, 0, 2049), 'FRAME_SIZE_ERROR'],
  ['SETTINGS over max control payload', header(FrameType.SETTINGS, 0, 0, 0xffffffff), 'FRAME_SIZE_ERROR'],
  ['WINDOW of 7', header(FrameType.WINDOW, 0, 1, 7), 'FRAME_SIZE_ERROR'],
  ['WINDOW of 9', header(FrameType.WINDOW, 0, 1, 9), 'FRAME_SIZE_ERROR'],
  ['PING of 0', header(FrameType.PING, 0, 0, 0), 'FRAME_SIZE_ERROR'],
  ['PING ACK of 16', header(FrameType.PING, Flag.ACK, 0, 16), 'FRAME_SIZE_ERROR'],
  ['OPEN_OK of 1', header(FrameType.OPEN_OK, 0, 1, 1), 'FRAME_SIZE_ERROR'],
  ['PING on stream 1', header(FrameType.PING, 0, 1, 8), 'PROTOCOL_ERROR'],
  ['GOAWAY on stream 2', header(FrameType.GOAWAY, 0, 2, 8), 'PROTOCOL_ERROR'],
  ['SETTINGS on stream 3', header(FrameType.SETTINGS, 0, 3, 0), 'PROTOCOL_ERROR'],
  ['DATA on stream 0', header(FrameType.DATA, 0, 0, 1), 'PROTOCOL_ERROR'],
  ['WINDOW on stream 0 (id checked before length)', header(FrameType.WINDOW, 0, 0, 7), 'PROTOCOL_ERROR'],
  ['OPEN on stream 0', header(FrameType.OPEN, 0, 0, 2), 'PROTOCOL_ERROR'],
  ['OPEN_OK on stream 0', header(FrameType.OPEN_OK, 0, 0, 0), 'PROTOCOL_ERROR'],
  ['RESET on stream 0', header(FrameType.RESET, 0, 0, 4), 'PROTOCOL_ERROR'],
  ['DATA on stream 2^31', header(FrameType.DATA, 0, 0x8000_0000, 1), 'PROTOCOL_ERROR'],
];
const smallLimits = { maxFrameSize: 1024, maxControlPayload: 2048 };

t.test('malformed headers throw ProtocolError, whole or byte by byte, and the decoder stays failed', async (t) => {
  const before = encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8, 1));
  for (const [name, bad, wireCode] of malformed) {
    t.equal(oracleDecode([bad], smallLimits).error, wireCode, `oracle agrees: ${name}`);
    for (const byteByByte of [false, true]) {
      const input = concat([before, bad, Buffer.alloc(20)]);
      const chunks = byteByByte ? [...input].map((_, i) => input.subarray(i, i + 1)) : [input];
      const sink = new Collector();
      const decoder = new FrameDecoder(sink, smallLimits);
      let caught: unknown;
      try {
        for (const c of chunks) decoder.push(c);
      } catch (err) {
        caught = err;
      }
      t.ok(caught instanceof ProtocolError, `${name}${byteByByte ? ' (byte by byte)' : ''}`);
      t.equal((caught as ProtocolError).wireCode, wireCode);
      t.equal((caught as ProtocolError).code, `ERR_FRAMING_${wireCode}`);
      t.equal(sink.frames.length, 1, 'the frame before it was delivered');
      t.throws(() => decoder.push(Buffer.alloc(1)), caught as Error, 'stays failed with the same error');
    }
  }
});

t.test('maxFrameSize can be changed at runtime', async (t) => {
  const decoder = new FrameDecoder({ onData: () => {}, onFrame: () => {} }, { maxFrameSize: 2048 });
  decoder.push(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(2000)));
  decoder.maxFrameSize = 1024;
  const err = thrown(() => decoder.push(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(2000))));
  t.ok(err instanceof ProtocolError);
  t.equal((err as ProtocolError).wireCode, 'FRAME_SIZE_ERROR');
});

t.test('an exception from the sink propagates and fails the decoder', async (t) => {
  const boom = new Error('sink failed');
  const decoder = new FrameDecoder(
    {
      onData: () => {},
      onFrame: () => {
        throw boom;
      },
    },
    { maxFrameSize: 1024 },
  );
  t.throws(() => decoder.push(encodeFrame(FrameType.OPEN_OK, 0, 1)), boom);
  t.throws(() => decoder.push(encodeFrame(FrameType.OPEN_OK, 0, 1)), boom);
});

/** Garbage that gets past the first header often: valid frames with mutations, plausible headers, noise. */
function garbage(seed: number): Buffer {
  const rnd = prng(seed);
  const parts: Buffer[] = [];
  for (let i = 0; i < 12; i++) {
    const kind = rnd.int(3);
    if (kind === 0) parts.push(rnd.bytes(rnd.int(64)));
    else if (kind === 1) parts.push(header(rnd.int(9), rnd.int(8), rnd.int(3), rnd.int(3) === 0 ? rnd.int(2 ** 32) : rnd.int(20_000)));
    else {
      const f = frames[rnd.int(frames.length)];
      const enc = encodeFrame(f.type, f.flags, f.streamId, f.payload.subarray(0, 3000));
      for (let m = rnd.int(3); m > 0; m--) enc[rnd.int(Math.min(enc.length, 16))] = rnd.int(256);
      parts.push(enc);
    }
  }
  return concat(parts);
}

t.test('seeded random garbage: only ProtocolError, bounded buffering, same result as the oracle', async (t) => {
  const limits = { maxFrameSize: 16_372, maxControlPayload: 16_384 };
  let maxBuffered = 0;
  let errors = 0;
  let mismatches = 0;
  let first: string | null = null;
  for (let seed = 1; seed <= 400; seed++) {
    const input = garbage(seed);
    const rnd = prng(seed + 1e6);
    const sink = new Collector();
    const decoder = new FrameDecoder(sink, limits);
    let caught: unknown = null;
    for (let at = 0; at < input.length && caught === null;) {
      const chunk = input.subarray(at, at + 1 + rnd.int(3000));
      at += chunk.length;
      sink.chunk = chunk;
      try {
        decoder.push(chunk);
      } catch (err) {
        caught = err;
      }
      maxBuffered = Math.max(maxBuffered, decoder.buffered);
    }
    const want = oracleDecode([input], limits);
    const wireCode = caught instanceof ProtocolError ? caught.wireCode : caught === null ? null : 'not a ProtocolError';
    if (wireCode !== null) errors++;
    // Cut-through DATA pieces of a frame cut short by the error are not counted as a frame.
    const mismatch = wireCode !== want.error ? `error ${wireCode} vs ${want.error}` : (diff(sink.frames, want.frames) ?? sink.problems[0] ?? null);
    if (mismatch !== null) {
      mismatches++;
      first ??= `seed ${seed}: ${mismatch}`;
    }
  }
  t.equal(mismatches, 0, first ?? '400 garbage inputs agree with the oracle');
  t.ok(errors > 100, `${errors} inputs were rejected`);
  t.ok(maxBuffered <= limits.maxControlPayload + HEADER_SIZE, `max buffered ${maxBuffered}`);
});
