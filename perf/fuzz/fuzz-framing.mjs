#!/usr/bin/env node
// Seeded fuzzing of the framing lib (libs/framing/dist): the frame decoder and whole Sessions.
//
//   node perf/fuzz/fuzz-framing.mjs --runs 1000000 --seed 42 [--session-share 0.05] [--json out.json]
//
// Decoder inputs: random headers checked against a naive oracle of spec §1 (the exact wire code of
// every malformed header), then random / mutated byte streams fed at random split points. Session
// inputs: random and mutated frame sequences from a raw peer into a server Session over an in-memory
// pair. Every input must end running, or in a GOAWAY (session) / RESET (stream) with a known wire
// code that matches the local error; never an exception other than ProtocolError, never
// INTERNAL_ERROR, never more than a frame's worth of buffered bytes. Exit 1 on the first failures
// (the seed and run number reproduce them).
import { pair } from './duplex-pair.mjs';
import { prng } from './prng.mjs';
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../libs/framing/dist');
const { FrameDecoder } = /** @type {typeof import('../../libs/framing/dist/decoder.js')} */ (await import(`${dist}/decoder.js`));
const { Session } = /** @type {typeof import('../../libs/framing/dist/session.js')} */ (await import(`${dist}/session.js`));
const { ProtocolError, SessionClosedError, ErrorCode, errorCodeName } = /** @type {typeof import('../../libs/framing/dist/errors.js')} */ (
  await import(`${dist}/errors.js`)
);
const { encodeFrame } = /** @type {typeof import('../../libs/framing/dist/frame.js')} */ (await import(`${dist}/frame.js`));
const { compressPayload } = /** @type {typeof import('../../libs/framing/dist/lz4.js')} */ (await import(`${dist}/lz4.js`));
const P = /** @type {typeof import('../../libs/framing/dist/payloads.js')} */ (await import(`${dist}/payloads.js`));
const { FrameType, Flag, Setting, CODEC_LZ4 } = /** @type {typeof import('../../libs/framing/dist/constants.js')} */ (await import(`${dist}/constants.js`));

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '200000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    'session-share': { type: 'string', default: '0.05' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const SEED = Number(args.seed);
const SESSION_SHARE = Number(args['session-share']);
const MAX_FRAME = 16_372;
const MAX_CONTROL = 16 * 1024;
/** per-partial-frame bound of the decoder (spec §9) */
const DECODER_BOUND = 12 + Math.max(MAX_FRAME, MAX_CONTROL);
const KNOWN = new Set(Object.values(ErrorCode));

const r = prng(SEED);

// ---- naive oracle of the header checks (spec §1, written from the table, not from decoder.ts) ----
/** @param {number} type @param {number} streamId @param {number} length @returns {string | null} */
function expectedHeaderCode(type, streamId, length) {
  if (type > 7) return 'PROTOCOL_ERROR';
  const sessionLevel = type === 5 || type === 6 || type === 7;
  if (sessionLevel ? streamId !== 0 : streamId === 0 || streamId > 0x7fffffff) return 'PROTOCOL_ERROR';
  if (type === 0) return length > MAX_FRAME ? 'FRAME_SIZE_ERROR' : null;
  const fixed = /** @type {Record<number, number>} */ ({ 1: 8, 3: 0, 5: 8 })[type];
  if (fixed !== undefined) return length === fixed ? null : 'FRAME_SIZE_ERROR';
  return length > MAX_CONTROL ? 'FRAME_SIZE_ERROR' : null;
}

// ---- results ----
/** @type {Map<string, number>} */
const outcomes = new Map();
const count = (/** @type {string} */ k) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
/** @type {{ run: number, what: string, detail?: string }[]} */
const failures = [];
let maxDecoderBuffered = 0;
let maxSessionBuffered = 0;
let maxHeap = 0;
let maxRss = 0;
/** @param {number} run @param {string} what @param {string} [detail] */
function fail(run, what, detail) {
  failures.push({ run, what, detail });
  console.error(`FAIL run ${run} (seed ${SEED}): ${what}${detail ? ` ${detail}` : ''}`);
}

// ---- decoder inputs ----
const nullSink = { onData() {}, onFrame() {} };
/** @param {number} type @param {number} flags @param {number} streamId @param {number} length */
function header(type, flags, streamId, length) {
  const h = Buffer.alloc(12);
  h[0] = type;
  h[1] = flags;
  h.writeUInt32BE(streamId >>> 0, 4);
  h.writeUInt32BE(length >>> 0, 8);
  return h;
}
const pick = /** @template T @param {T[]} xs @returns {T} */ (xs) => xs[r.int(xs.length)];
function randomHeaderFields() {
  const type = r.next() < 0.9 ? r.int(8) : r.int(256);
  const streamId = pick([0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, r.int(2 ** 32)]);
  const length = pick([0, 1, 4, 7, 8, 9, MAX_FRAME, MAX_FRAME + 1, MAX_CONTROL, MAX_CONTROL + 1, r.int(64), r.int(2 ** 32)]);
  return [type, r.int(256), streamId, length];
}

/** @param {number} run */
function decoderRun(run) {
  const dec = new FrameDecoder(nullSink, { maxFrameSize: MAX_FRAME });
  if (r.next() < 0.5) {
    // one header (+ a little payload) with a known expected verdict
    const [type, flags, streamId, length] = randomHeaderFields();
    const expected = expectedHeaderCode(type, streamId, length);
    const wire = Buffer.concat([header(type, flags, streamId, length), r.bytes(Math.min(length, r.int(32)))]);
    /** @type {string | null} */
    let got = null;
    try {
      feed(dec, wire);
    } catch (err) {
      if (!(err instanceof ProtocolError)) return fail(run, 'decoder threw a non-ProtocolError', String(err));
      got = err.wireCode;
    }
    if (got !== expected) return fail(run, `header ${type}/${streamId}/${length}: expected ${expected}, got ${got}`);
    count(`decoder ${got ?? 'ok'}`);
  } else {
    // random / mutated byte streams: only ProtocolErrors, and the decoder's memory stays bounded
    const wire = randomWire();
    let got = 'ok';
    try {
      feed(dec, wire, (b) => (maxDecoderBuffered = Math.max(maxDecoderBuffered, b)));
    } catch (err) {
      if (!(err instanceof ProtocolError) || !KNOWN.has(ErrorCode[err.wireCode])) return fail(run, 'decoder threw', String(err));
      got = err.wireCode;
    }
    if (dec.buffered > DECODER_BOUND) return fail(run, `decoder holds ${dec.buffered} bytes`);
    count(`decoder-stream ${got}`);
  }
}

/** @param {InstanceType<typeof FrameDecoder>} dec @param {Buffer} wire @param {(buffered: number) => void} [onBuffered] */
function feed(dec, wire, onBuffered) {
  for (let at = 0; at < wire.length;) {
    const n = 1 + r.int(Math.min(wire.length - at, r.next() < 0.5 ? 16 : 20_000));
    dec.push(wire.subarray(at, at + n));
    at += n;
    onBuffered?.(dec.buffered);
  }
}

function validFrame() {
  const id = 1 + 2 * r.int(8);
  switch (r.int(8)) {
    case 0:
      return encodeFrame(FrameType.DATA, r.int(8) & ~Flag.COMPRESSED, id, r.bytes(r.int(MAX_FRAME + 1)));
    case 1:
      return encodeFrame(FrameType.WINDOW, 0, id, P.encodeWindow(r.int(2 ** 31)));
    case 2:
      return encodeFrame(FrameType.OPEN, 0, id, P.encodeOpen({ host: 'h', port: r.int(65536) }));
    case 3:
      return encodeFrame(FrameType.OPEN_OK, 0, id);
    case 4:
      return encodeFrame(FrameType.RESET, 0, id, P.encodeReset(r.int(20), 'x'.repeat(r.int(2000))));
    case 5:
      return encodeFrame(FrameType.PING, r.int(2), 0, r.bytes(8));
    case 6:
      return encodeFrame(FrameType.GOAWAY, 0, 0, P.encodeGoAway(r.int(99), r.int(20), 'bye'));
    default:
      return encodeFrame(FrameType.SETTINGS, 0, 0, P.encodeSettings({ [Setting.MAX_FRAME_SIZE]: 1024 + r.int(60_000) }, { a: r.int(9) }));
  }
}

function randomWire() {
  if (r.next() < 0.2) return r.bytes(1 + r.int(4096));
  const frames = Array.from({ length: 1 + r.int(12) }, validFrame);
  return mutate(Buffer.concat(frames));
}

/** @param {Buffer} bytes */
function mutate(bytes) {
  const out = Buffer.from(bytes);
  const flips = r.int(6);
  for (let i = 0; i < flips && out.length > 0; i++) out[r.int(out.length)] = r.int(256);
  if (r.next() < 0.2) return out.subarray(0, r.int(out.length + 1));
  return out;
}

// ---- session inputs ----
const PEER_SETTINGS = encodeFrame(
  FrameType.SETTINGS,
  0,
  0,
  P.encodeSettings(
    {
      [Setting.MAX_FRAME_SIZE]: MAX_FRAME,
      [Setting.INITIAL_WINDOW]: 256 * 1024,
      [Setting.MAX_STREAMS]: 1024,
      [Setting.CODECS]: CODEC_LZ4,
    },
    {},
  ),
);

/** @param {{ nextId: number, ids: number[] }} state */
function sessionFrame(state) {
  const id = () => (state.ids.length > 0 && r.next() < 0.95 ? pick(state.ids) : 1 + r.int(40));
  switch (r.next() < 0.03 ? 10 : r.int(10)) {
    case 0: {
      const fid = r.next() < 0.9 ? state.nextId : 1 + r.int(30);
      state.nextId = Math.max(state.nextId, fid) + 2;
      state.ids.push(fid);
      return encodeFrame(FrameType.OPEN, 0, fid, P.encodeOpen({ host: 'h', port: r.int(65536), compress: r.next() < 0.5 }));
    }
    case 1:
    case 2:
      return encodeFrame(FrameType.DATA, r.int(8) & ~Flag.COMPRESSED, id(), r.bytes(r.int(6000)));
    case 3: {
      const packed = r.next() < 0.7 ? compressPayload(Buffer.alloc(64 + r.int(4000), r.int(256))) : null;
      return encodeFrame(FrameType.DATA, Flag.COMPRESSED | (r.int(2) * Flag.FIN), id(), packed ?? r.bytes(5 + r.int(40)));
    }
    case 4:
      return encodeFrame(FrameType.WINDOW, 0, id(), P.encodeWindow(r.int(2 ** 30)));
    case 5:
      return encodeFrame(FrameType.OPEN_OK, 0, r.next() < 0.5 ? 2 : id());
    case 6:
      return encodeFrame(FrameType.RESET, 0, id(), P.encodeReset(r.int(20), 'fuzz'));
    case 7:
      return encodeFrame(FrameType.PING, r.int(2), 0, r.bytes(8));
    case 8:
      return encodeFrame(FrameType.GOAWAY, 0, 0, P.encodeGoAway(r.int(50), r.int(16), 'bye'));
    case 9:
      return r.next() < 0.5
        ? PEER_SETTINGS
        : encodeFrame(
            FrameType.SETTINGS,
            r.int(2),
            0,
            P.encodeSettings({ [Setting.MAX_FRAME_SIZE]: 1024 + r.int(40_000), [Setting.INITIAL_WINDOW]: 256 * 1024 }),
          );
    default:
      return r.bytes(1 + r.int(40));
  }
}

/** Decodes what the session wrote (RESET and GOAWAY codes) with a lenient decoder. */
/** @param {Buffer[]} chunks */
function writtenBy(chunks) {
  /** @type {string[]} */
  const resets = [];
  /** @type {string[]} */
  const goaways = [];
  const sink = {
    onData() {},
    /** @param {number} type @param {number} _f @param {number} streamId @param {Buffer} payload */
    onFrame(type, _f, streamId, payload) {
      if (type === FrameType.RESET) resets.push(errorCodeName(P.decodeReset(payload).code));
      if (type === FrameType.GOAWAY) goaways.push(errorCodeName(P.decodeGoAway(payload).code));
    },
  };
  const dec = new FrameDecoder(sink, { maxFrameSize: 16 * 1024 * 1024, maxControlPayload: 64 * 1024 });
  for (const c of chunks) dec.push(c);
  return { resets, goaways };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** @param {number} run */
async function sessionRun(run) {
  const [raw, sock] = pair();
  const session = new Session(sock, {
    role: 'server',
    compression: true,
    maxControlPerSecond: 200,
    initialWindow: 16 * 1024,
    receiveBudget: 1024 * 1024,
    maxStreams: 8,
    keepaliveIntervalMs: 60_000,
    keepaliveTimeoutMs: 120_000,
  });
  /** @type {Buffer[]} */
  const out = [];
  raw.on('data', (/** @type {Buffer} */ b) => out.push(b));
  raw.on('error', () => {});
  /** @type {Error | null | undefined} */
  let closeErr = null;
  let closed = false;
  session.once('close', (err) => {
    closed = true;
    closeErr = err;
  });
  session.on('stream', (s) => {
    s.on('error', () => {});
    if (r.next() < 0.7) s.accept();
    if (r.next() < 0.5) s.resume();
    if (r.next() < 0.2) s.end('bye');
  });
  for (let i = 0; i < 2; i++) {
    const local = session.open({ host: 'x', port: 1 });
    local.on('error', () => {});
    local.write('local data');
  }
  const state = { nextId: 1, ids: [2, 4] };
  const frames = Array.from({ length: 1 + r.int(30) }, () => sessionFrame(state));
  let wire = Buffer.concat(r.next() < 0.9 ? [PEER_SETTINGS, ...frames] : frames);
  if (r.next() < 0.3) wire = mutate(wire);
  for (let at = 0; at < wire.length;) {
    const n = 1 + r.int(Math.min(5000, wire.length - at));
    if (!raw.destroyed) raw.write(wire.subarray(at, at + n));
    at += n;
  }
  await tick();
  await tick();
  const buffered = session['sink'].buffered + [...session.streams.values()].reduce((s, st) => s + st.readableLength, 0);
  maxSessionBuffered = Math.max(maxSessionBuffered, buffered);
  const { resets, goaways } = writtenBy(out);
  for (const code of resets) count(`session RESET ${code}`);
  if (session.destroyed) {
    await tick();
    const local = closeErr instanceof SessionClosedError ? closeErr.wireCode : 'none';
    const sent = goaways[0];
    count(`session GOAWAY ${sent ?? 'missing'}`);
    if (!closed || sent === undefined || sent !== local || sent === 'INTERNAL_ERROR' || !KNOWN.has(ErrorCode[/** @type {keyof typeof ErrorCode} */ (sent)])) {
      fail(run, `session ended with GOAWAY ${sent} but local error ${local}`, closeErr?.message);
    }
  } else {
    count('session running');
    if (buffered > 1024 * 1024 + DECODER_BOUND) fail(run, `session buffers ${buffered} bytes`);
  }
  // every stream of a Session without socketStreams is a Stream (a Duplex)
  for (const st of session.streams.values()) /** @type {import('../../libs/framing/dist/stream.js').Stream} */ (st).on('error', () => {});
  session.destroy();
}

// ---- main loop ----
/** @type {unknown[]} */
const uncaught = [];
process.on('uncaughtException', (e) => uncaught.push(e));
process.on('unhandledRejection', (e) => uncaught.push(e));
const started = performance.now();
let lastReport = started;
let run = 0;
let sessionRuns = 0;
for (; run < RUNS && failures.length < 5 && uncaught.length === 0; run++) {
  // a throw of the harness itself is a finding too: counted, summarised, and the exit code says so
  // (at top level it would end the run silently with exit 0)
  try {
    if (r.next() < SESSION_SHARE) {
      sessionRuns += 1;
      await sessionRun(run);
    } else {
      decoderRun(run);
    }
  } catch (err) {
    uncaught.push(err);
  }
  if ((run & 1023) === 0) {
    const m = process.memoryUsage();
    maxHeap = Math.max(maxHeap, m.heapUsed);
    maxRss = Math.max(maxRss, m.rss);
    const now = performance.now();
    if (now - lastReport > 2_000) {
      lastReport = now;
      // yield so that timers of destroyed sessions can run
      await tick();
      if (!args.quiet) {
        const rate = Math.round(run / ((now - started) / 1000));
        console.error(
          `[fuzz] ${run}/${RUNS} inputs (${((100 * run) / RUNS).toFixed(1)} %), ${rate}/s, heap ${(m.heapUsed / 1048576).toFixed(1)} MiB, rss ${(m.rss / 1048576).toFixed(1)} MiB`,
        );
      }
    }
  }
}
const seconds = (performance.now() - started) / 1000;
const summary = {
  seed: SEED,
  inputs: run,
  sessionInputs: sessionRuns,
  decoderInputs: run - sessionRuns,
  seconds: Math.round(seconds * 10) / 10,
  inputsPerSecond: Math.round(run / seconds),
  maxDecoderBufferedBytes: maxDecoderBuffered,
  maxSessionBufferedBytes: maxSessionBuffered,
  decoderBoundBytes: DECODER_BOUND,
  maxHeapMiB: Math.round(maxHeap / 10485.76) / 100,
  maxRssMiB: Math.round(maxRss / 10485.76) / 100,
  outcomes: Object.fromEntries([...outcomes].sort()),
  failures: failures.length,
  uncaught: uncaught.map(String),
};
console.log(JSON.stringify(summary, null, 2));
if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
process.exitCode = failures.length > 0 || uncaught.length > 0 ? 1 : 0;
setImmediate(() => process.exit());
