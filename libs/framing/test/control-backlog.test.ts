// Replies to control frames are bounded by backpressure too: a peer that sends PINGs (or DATA, which
// earns WINDOW replies) and never reads must not grow our memory. Once the socket holds more than
// MAX_CONTROL_BACKLOG unwritten bytes beyond the data allowance, the session fails with FLOOD.
// Before the bound, 40 000 PINGs from a peer that never read left ~800 KB of PING-ACKs queued in
// the socket and the session open.
import t from 'tap';
import { Flag, FrameType } from '../src/constants.js';
import { SessionClosedError } from '../src/errors.js';
import { encodeFrame } from '../src/frame.js';
import { MAX_CONTROL_BACKLOG } from '../src/writer.js';
import { rawPeer } from './fixtures/raw-peer.js';
import { within } from './fixtures/streams.js';

const ping = (i: number): Buffer => {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(i, 4);
  return encodeFrame(FrameType.PING, 0, 0, p);
};
const PINGS = 40_000;
/** the PINGs in 16 KiB writes, each on its own turn (as a socket delivers them) */
async function sendPings(send: (b: Buffer) => void): Promise<void> {
  const all = Buffer.concat(Array.from({ length: PINGS }, (_, i) => ping(i)));
  for (let o = 0; o < all.length; o += 16 * 1024) {
    send(all.subarray(o, o + 16 * 1024));
    await new Promise((r) => setImmediate(r));
  }
}

t.test(`a peer that sends ${PINGS} PINGs and never reads: the session fails with FLOOD, memory bounded`, async (t) => {
  const peer = rawPeer({ maxControlPerSecond: 1_000_000 });
  peer.raw.pause();
  peer.raw.removeAllListeners('data'); // the peer stops reading: nothing drains the session's socket
  const sock = peer.session.socket;
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, sock.writableLength)), 1);
  await sendPings((b) => peer.send(b));
  const err = await within(peer.closed, 3_000, 'session close');
  clearInterval(sample);
  t.ok(err instanceof SessionClosedError, 'closed with SessionClosedError');
  t.equal((err as SessionClosedError).wireCode, 'FLOOD');
  t.match(err!.message, /does not read/);
  t.ok(peak < 2 * MAX_CONTROL_BACKLOG, `socket held at most ${peak} bytes (< ${2 * MAX_CONTROL_BACKLOG}; ${PINGS} acks are ${PINGS * 20})`);
  t.same(peer.uncaught, []);
});

t.test(`a peer that sends ${PINGS} PINGs and reads: every PING answered, the session stays`, async (t) => {
  const peer = rawPeer({ maxControlPerSecond: 1_000_000 });
  await sendPings((b) => peer.send(b));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(peer.session.destroyed, false, 'the session is open');
  const acks = peer.frames().filter((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0);
  t.equal(acks.length, PINGS, 'every PING got its ACK');
  peer.session.destroy();
});
