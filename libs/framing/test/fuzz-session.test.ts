// Seeded fuzzing of a Session: thousands of random and mutated frame sequences from a raw peer. Each
// must end cleanly: the session keeps running, or it closes with a GOAWAY carrying a known wire code
// (never INTERNAL_ERROR, which would mean something other than a ProtocolError escaped). No uncaught
// exception, no unhandled rejection, little buffered memory, bounded time. FUZZ_SEED reproduces a run.
import t from 'tap';
import { Flag, FrameType, Setting } from '../src/constants.js';
import { ErrorCode, SessionClosedError } from '../src/errors.js';
import { encodeFrame } from '../src/frame.js';
import { compressPayload } from '../src/lz4.js';
import { encodeGoAway, encodeReset, encodeSettings, encodeWindow } from '../src/payloads.js';
import { Stream } from '../src/stream.js';
import { prng, type Prng } from './fixtures/prng.js';
import { PEER_SETTINGS, openFrame, rawPeer } from './fixtures/raw-peer.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const TIME_LIMIT_MS = 40_000;
const KNOWN = new Set(Object.values(ErrorCode) as number[]);

/** One plausible frame, aimed at the ids this conversation has used. */
function randomFrame(r: Prng, state: { nextId: number; ids: number[] }): Buffer {
  const id = (): number => (state.ids.length > 0 && r.next() < 0.97 ? state.ids[r.int(state.ids.length)]! : 1 + r.int(40));
  switch (r.next() < 0.03 ? 10 : r.int(10)) {
    case 0: {
      const fid = r.next() < 0.9 ? state.nextId : 1 + r.int(30);
      state.nextId = Math.max(state.nextId, fid) + 2;
      state.ids.push(fid);
      return openFrame(fid, { host: 'h', port: r.int(65536), compress: r.next() < 0.5 });
    }
    case 1:
    case 2: {
      const flags = r.int(8) & ~Flag.COMPRESSED;
      return encodeFrame(FrameType.DATA, flags, id(), r.bytes(r.int(3000)));
    }
    case 3: {
      const packed = compressPayload(Buffer.alloc(64 + r.int(4000), r.int(256)));
      return encodeFrame(FrameType.DATA, Flag.COMPRESSED | (r.int(2) * Flag.FIN), id(), packed ?? r.bytes(10));
    }
    case 4:
      return encodeFrame(FrameType.WINDOW, 0, id(), encodeWindow(r.int(2 ** 30)));
    case 5:
      return encodeFrame(FrameType.OPEN_OK, 0, r.next() < 0.5 ? 2 : id());
    case 6:
      return encodeFrame(FrameType.RESET, 0, id(), encodeReset(r.int(20), 'fuzz'));
    case 7:
      return encodeFrame(FrameType.PING, r.int(2), 0, r.bytes(8));
    case 8:
      return encodeFrame(FrameType.GOAWAY, 0, 0, encodeGoAway(r.int(50), r.int(16), 'bye'));
    case 9:
      return r.next() < 0.5
        ? PEER_SETTINGS
        : encodeFrame(
            FrameType.SETTINGS,
            r.int(2),
            0,
            encodeSettings({ [Setting.MAX_FRAME_SIZE]: 1024 + r.int(40_000), [Setting.INITIAL_WINDOW]: 256 * 1024 }),
          );
    default:
      return r.bytes(1 + r.int(40));
  }
}

/** Flips, truncates or splices random bytes in `bytes`. */
function mutate(r: Prng, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes as Uint8Array);
  const flips = 1 + r.int(4);
  for (let i = 0; i < flips && out.length > 0; i++) out[r.int(out.length)] = r.int(256);
  if (r.next() < 0.2) return out.subarray(0, r.int(out.length + 1));
  return out;
}

t.test(`fuzz: ${RUNS} frame sequences, seed ${SEED}`, async (t) => {
  t.comment(`reproduce with FUZZ_SEED=${SEED}`);
  const r = prng(SEED);
  const start = Date.now();
  const uncaught: unknown[] = [];
  const record = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  t.teardown(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });
  const outcomes = new Map<string, number>();
  let worstBuffered = 0;
  let failures = 0;
  for (let run = 0; run < RUNS && failures < 5; run++) {
    const peer = rawPeer({ maxControlPerSecond: 200, initialWindow: 16 * 1024, receiveBudget: 1024 * 1024, maxStreams: 8 }, r.next() < 0.9);
    peer.session.on('stream', (s: Stream) => {
      s.on('error', () => {});
      if (r.next() < 0.7) s.accept();
      if (r.next() < 0.5) s.resume();
      if (r.next() < 0.2) s.end('bye');
    });
    for (let i = 0; i < 2; i++) {
      const local = peer.session.open({ host: 'x', port: 1 });
      local.on('error', () => {});
      local.write('local data');
    }
    const state = { nextId: 1, ids: [2, 4] };
    const frames = Array.from({ length: 1 + r.int(30) }, () => randomFrame(r, state));
    let wire: Buffer = Buffer.concat(frames as Uint8Array[]);
    if (r.next() < 0.3) wire = mutate(r, wire);
    // deliver in random splits
    for (let at = 0; at < wire.length;) {
      const n = 1 + r.int(Math.min(5000, wire.length - at));
      peer.send(wire.subarray(at, at + n));
      at += n;
    }
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const s = peer.session;
    const buffered = s['sink'].buffered + [...s.streams.values()].reduce((sum, st) => sum + st.readableLength, 0);
    worstBuffered = Math.max(worstBuffered, buffered);
    let outcome = 'running';
    if (s.destroyed) {
      const err = await peer.closed;
      const goAway = peer.goAway();
      const wireCode = err instanceof SessionClosedError ? err.wireCode : 'none';
      outcome = `GOAWAY ${goAway?.code ?? 'missing'} (${wireCode})`;
      if (process.env.FUZZ_VERBOSE) outcome += ` ${err?.message.replace(/\d+/g, 'N')}`;
      const ok = goAway !== undefined && KNOWN.has(ErrorCode[goAway.code]) && goAway.code !== 'INTERNAL_ERROR' && wireCode === goAway.code;
      if (!ok) {
        failures += 1;
        t.fail(`run ${run}: ${outcome}: ${err?.message}`, { wire: wire.toString('hex').slice(0, 400) });
      }
    } else if (buffered > 1024 * 1024 + 64 * 1024) {
      failures += 1;
      t.fail(`run ${run}: ${buffered} bytes buffered`);
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    for (const st of s.streams.values()) if (st instanceof Stream) st.on('error', () => {});
    s.destroy();
    if (Date.now() - start > TIME_LIMIT_MS) break;
  }
  const elapsed = Date.now() - start;
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}; worst buffered ${worstBuffered} bytes; ${elapsed} ms`);
  t.equal(failures, 0, 'every sequence ended cleanly');
  t.same(uncaught, [], 'no uncaught exception or unhandled rejection');
  t.ok(elapsed < TIME_LIMIT_MS, `finished within ${TIME_LIMIT_MS} ms (${elapsed} ms)`);
  t.ok((outcomes.get('running') ?? 0) > 0 && outcomes.size > 2, 'both surviving and failing sequences were generated');
});
