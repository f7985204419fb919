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

/** Bytes the sender may send now. */
export function creditLeft(limit: number, sent: number): number {
  return limit > sent ? limit - sent : 0;
}
