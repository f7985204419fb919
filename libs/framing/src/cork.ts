// The pace of writes within an event-loop turn. Bulk waits for the turn's end (setImmediate), so the
// frames that the many reads of one busy turn produce leave in one writev, not one syscall each
// (4 → 1 per 64 KiB on loopback: ticks run after every decrypted TLS record, which is one frame). A
// small piece of work (a ping, a keystroke, a request: ≤ LEAD_MAX bytes) leads instead: the first one
// of a turn for a key runs as soon as the callback that asked for it returns (nextTick), and waits for
// no other I/O of the turn; a key's later work in that turn waits for the turn's end all the same.
import type { Writable } from 'node:stream';

/** the largest write that leads its turn */
export const LEAD_MAX = 4096;

/** the keys whose lead of this turn has run or is queued */
const led = new Set<object>();

function endTurn(): void {
  led.clear();
}

/**
 * Runs `fn(arg)` at the turn's end, or, for `bytes` ≤ LEAD_MAX when `key` has not led this turn yet,
 * as soon as the current callback returns.
 */
export function paceForTurn<T extends object>(key: object, bytes: number, fn: (arg: T) => void, arg: T): void {
  if (bytes > LEAD_MAX || led.has(key)) {
    setImmediate(fn, arg);
    return;
  }
  if (led.size === 0) setImmediate(endTurn);
  led.add(key);
  process.nextTick(fn, arg);
}

/**
 * Call before each write of `bytes` to `socket`: the first write corks it, and it uncorks at the pace
 * above, so a turn's bulk leaves in one writev. Whether it is corked already is read from the socket
 * (`writableCorked`), so a relay keeps no state for it. Needs a writable highWaterMark of several
 * frames, or the writer sees backpressure after the first.
 */
export function corkForTurn(socket: Writable, bytes: number): void {
  if (socket.writableCorked > 0) return;
  socket.cork();
  paceForTurn(socket, bytes, uncorkSocket, socket);
}

function uncorkSocket(socket: Writable): void {
  socket.uncork();
}
