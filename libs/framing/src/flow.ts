// Flow-control arithmetic, kept pure so it can be tested without sockets.
// Credit is an absolute byte offset: the sender may send stream bytes up to `limit`.
// All counts are RAW (uncompressed) bytes.

/**
 * The WINDOW offset to send now, or 0 when no update is due. `consumed` counts the bytes the local
 * consumer has accepted; an update is due once it would move the peer's limit by a quarter window.
 */
export function grantDue(consumed: number, window: number, granted: number): number {
  const offset = consumed + window;
  return offset - granted >= window / 4 ? offset : 0;
}

/**
 * The window to use after the peer reported it was BLOCKED: doubled when our consumer kept up
 * (less than half a window waiting to be read) and the session budget allows it; else unchanged.
 */
export function grownWindow(window: number, unread: number, maxWindow: number, budgetLeft: number): number {
  if (unread > window / 2) return window;
  const next = Math.min(window * 2, maxWindow, window + Math.max(0, budgetLeft));
  return next > window ? next : window;
}

/**
 * Whether the window is what limits a stream's rate, judged over an epoch in which the local
 * consumer took `bytes` in `elapsedMs`: yes when a window drains in less than 2 round trips (the
 * auto-tuning rule of QUIC stacks). A stream held back by its consumer's CPU, not by the round trip, gains nothing
 * from a bigger window: the extra bytes only queue in socket buffers, in front of every other stream.
 * Yes without an RTT sample (grow, as before one exists); undefined while the epoch is shorter than a
 * round trip (BLOCKED reports sent before our last grant arrived are stale) or less than half a
 * window was consumed in it (too little to judge: keep measuring).
 */
export function windowLimited(elapsedMs: number, bytes: number, window: number, rttMs: number | undefined): boolean | undefined {
  if (rttMs === undefined) return true;
  if (elapsedMs < rttMs || bytes < window / 2) return undefined;
  return elapsedMs * window < 2 * rttMs * bytes;
}

/**
 * A new stream's receive window once the session has a round-trip sample: what `startRate` bytes/s
 * need in flight over `rttMs` (the path's smallest round trip), between `initialWindow` and
 * `maxWindow`, the part above `initialWindow` taken only from `room` (budget the session may still
 * lend to start windows). `initialWindow` without a sample, with `startRate` 0, or when there is no room.
 */
export function startWindow(initialWindow: number, maxWindow: number, startRate: number, rttMs: number | undefined, room: number): number {
  if (rttMs === undefined || startRate === 0) return initialWindow;
  const extra = Math.min(maxWindow, Math.ceil((startRate * rttMs) / 1000)) - initialWindow;
  return initialWindow + Math.max(0, Math.floor(Math.min(extra, room)));
}

/** Bytes the sender may send now. */
export function creditLeft(limit: number, sent: number): number {
  return limit > sent ? limit - sent : 0;
}
