import t from 'tap';
import * as lz4js from 'lz4js';
import { ProtocolError } from '../src/errors.js';
import { compressPayload, decompressPayload } from '../src/lz4.js';
import { concat, prng, sameBytes, thrown } from './fixtures/prng.js';

const MAX = 16_372;

function logLines(bytes: number, seed: number): Buffer {
  const rnd = prng(seed);
  let s = '';
  while (s.length < bytes)
    s += `2024-05-01T10:${rnd.int(60)}:${rnd.int(60)}Z ${['info', 'warn', 'debug'][rnd.int(3)]} GET /api/v1/namespaces/default/pods/p${rnd.int(50)}/log status=${200 + rnd.int(3)} bytes=${rnd.int(99999)}\n`;
  return Buffer.from(s.slice(0, bytes));
}

function smallAlphabet(bytes: number, seed: number): Buffer {
  const rnd = prng(seed);
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = 97 + rnd.int(4);
  return b;
}

/** u32 raw length + the given LZ4 block bytes. */
function payload(rawLength: number, block: number[]): Buffer {
  const p = Buffer.alloc(4 + block.length);
  p.writeUInt32BE(rawLength, 0);
  p.set(block, 4);
  return p;
}

t.test('round trips', async (t) => {
  const inputs: Array<[string, Buffer]> = [
    ['log lines 16 KiB', logLines(MAX, 1)],
    ['log lines 100 000', logLines(100_000, 2)],
    ['small alphabet', smallAlphabet(MAX, 3)],
    ['all zero 16 KiB', Buffer.alloc(MAX)],
    ['all zero 64', Buffer.alloc(64)],
    ['all zero 70 000 (past the 64 KiB match window)', Buffer.alloc(70_000)],
  ];
  for (const [name, raw] of inputs) {
    const c = compressPayload(raw);
    t.ok(c !== null && c.length < raw.length * 0.9, `${name}: ${raw.length} -> ${c?.length}`);
    t.equal(c!.readUInt32BE(0), raw.length, `${name}: raw length prefix`);
    t.ok(sameBytes(decompressPayload(c!, raw.length), raw), `${name}: decodes back`);
  }
});

t.test('compression that does not pay returns null', async (t) => {
  t.equal(compressPayload(prng(4).bytes(MAX)), null, 'random bytes');
  t.equal(compressPayload(prng(5).bytes(20)), null, 'short random');
  t.equal(compressPayload(Buffer.alloc(0)), null, 'empty');
  t.equal(compressPayload(Buffer.from('abcdefgh')), null, 'too short to match');
});

t.test('consecutive blocks are independent (hash table cleared per block)', async (t) => {
  const blocks = [logLines(MAX, 6), smallAlphabet(500, 7), logLines(3000, 8), Buffer.alloc(100), logLines(MAX, 9)];
  for (let round = 0; round < 2; round++) {
    for (const raw of blocks) t.ok(sameBytes(decompressPayload(compressPayload(raw)!, MAX), raw), `${raw.length} bytes, round ${round}`);
  }
});

t.test('blocks from lz4js.compressBlock decode with our decoder, many sizes', async (t) => {
  const compressBlock = lz4js.compressBlock as unknown as (s: ArrayLike<number>, d: Uint8Array, i: number, n: number, h: Uint32Array) => number;
  const table = new Uint32Array(1 << 16);
  let decoded = 0;
  let failures = 0;
  for (let size = 1; size <= 20_000; size = size < 300 ? size + 1 : Math.ceil(size * 1.07)) {
    for (const make of [logLines, smallAlphabet, (n: number) => Buffer.alloc(n, 0x41)]) {
      const raw = make(size, size);
      const dst = new Uint8Array(lz4js.compressBound(size));
      table.fill(0);
      const n = compressBlock(raw, dst, 0, size, table);
      if (n === 0) continue; // lz4js found nothing to match
      const out = decompressPayload(payload(size, [...dst.subarray(0, n)]), size);
      decoded++;
      if (!sameBytes(out, raw)) failures++;
    }
  }
  t.equal(failures, 0);
  t.ok(decoded > 500, `${decoded} blocks decoded`);
});

t.test('hand-made blocks: overlapping matches, length extensions', async (t) => {
  // 1 literal 'a', then a match of 4+15+255+1 = 275 at offset 1 (run-length), then 5 literals
  const rle = payload(281, [0x1f, 0x61, 1, 0, 255, 1, 0x50, 0x62, 0x63, 0x64, 0x65, 0x66]);
  t.equal(decompressPayload(rle, 1000).toString(), `${'a'.repeat(276)}bcdef`);
  // 15 + 255 + 3 = 273 literals in one run
  const lits = Buffer.alloc(273, 0x7a);
  t.ok(sameBytes(decompressPayload(payload(273, [0xf0, 255, 3, ...lits]), 273), lits));
  // 'abc' then a match of 6 at offset 3 (overlap: repeats the pattern), then 1 literal
  t.equal(decompressPayload(payload(10, [0x32, 0x61, 0x62, 0x63, 3, 0, 0x10, 0x21]), 10).toString(), 'abcabcabc!');
});

const bad: Array<[string, Buffer, number]> = [
  ['empty payload', Buffer.alloc(0), MAX],
  ['raw length only', payload(5, []), MAX],
  ['raw length 0', payload(0, [0x10, 0x61]), MAX],
  ['raw length above max', payload(MAX + 1, [0x10, 0x61]), MAX],
  ['raw length 2^32-1', payload(0xffffffff, [0x10, 0x61]), MAX],
  ['literals past the input', payload(5, [0x50, 0x61, 0x62]), MAX],
  ['literals past the output', payload(2, [0x30, 0x61, 0x62, 0x63]), MAX],
  ['literal length extension cut off', payload(300, [0xf0, 255]), MAX],
  ['literal length far beyond the output', payload(10, [0xf0, ...Array(200).fill(255), 0]), MAX],
  ['match offset 0', payload(10, [0x16, 0x61, 0, 0]), MAX],
  ['match offset before the start', payload(10, [0x16, 0x61, 2, 0]), MAX],
  ['match offset with no output yet', payload(10, [0x06, 1, 0]), MAX],
  ['match past the output', payload(6, [0x1f, 0x61, 1, 0, 5]), MAX],
  ['block ends inside an offset', payload(10, [0x11, 0x61, 1]), MAX],
  ['match length extension cut off', payload(100, [0x1f, 0x61, 1, 0]), MAX],
  ['output shorter than declared', payload(10, [0x30, 0x61, 0x62, 0x63]), MAX],
  ['input left after the output is full', payload(3, [0x30, 0x61, 0x62, 0x63, 1, 0]), MAX],
];

t.test('malformed payloads throw ProtocolError COMPRESSION_ERROR', async (t) => {
  for (const [name, p, max] of bad) {
    const err = thrown(() => decompressPayload(p, max));
    t.ok(err instanceof ProtocolError, name);
    t.equal((err as ProtocolError).wireCode, 'COMPRESSION_ERROR', name);
  }
});

t.test('fuzz: mutated and truncated payloads decode to the declared length or throw COMPRESSION_ERROR', async (t) => {
  const sources = [logLines(MAX, 10), smallAlphabet(4000, 11), Buffer.alloc(2000), logLines(700, 12)]
    .map((raw) => compressPayload(raw)!)
    .concat([payload(281, [0x1f, 0x61, 1, 0, 255, 1, 0x50, 0x62, 0x63, 0x64, 0x65, 0x66])]);
  const realAllocUnsafe = Buffer.allocUnsafe;
  let largest = 0;
  Buffer.allocUnsafe = (size: number) => {
    largest = Math.max(largest, size);
    return realAllocUnsafe(size);
  };
  const outcomes = { ok: 0, rejected: 0, other: [] as string[] };
  try {
    for (let seed = 1; seed <= 4000; seed++) {
      const rnd = prng(seed);
      const p = concat([sources[seed % sources.length]]);
      const mutations = rnd.int(4);
      for (let m = 0; m < mutations; m++) p[rnd.int(p.length)] = rnd.int(3) === 0 ? 255 : rnd.int(256);
      if (rnd.int(4) === 0) p.writeUInt32BE(rnd.int(3) === 0 ? rnd.int(2 ** 32) : rnd.int(MAX + 10), 0);
      const input = rnd.int(3) === 0 ? p.subarray(0, rnd.int(p.length + 1)) : p;
      const declared = input.length >= 4 ? input.readUInt32BE(0) : -1;
      try {
        const out = decompressPayload(input, MAX);
        if (out.length === declared) outcomes.ok++;
        else outcomes.other.push(`seed ${seed}: ${out.length} bytes, declared ${declared}`);
      } catch (err) {
        if (err instanceof ProtocolError && err.wireCode === 'COMPRESSION_ERROR') outcomes.rejected++;
        else outcomes.other.push(`seed ${seed}: ${String(err)}`);
      }
    }
  } finally {
    Buffer.allocUnsafe = realAllocUnsafe;
  }
  t.same(outcomes.other, [], 'nothing but a buffer of the declared length or COMPRESSION_ERROR');
  t.ok(outcomes.ok > 100 && outcomes.rejected > 1000, `${outcomes.ok} decoded, ${outcomes.rejected} rejected`);
  t.ok(largest <= MAX, `largest allocation ${largest} <= ${MAX}`);
});
