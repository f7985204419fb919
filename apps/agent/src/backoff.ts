// Reconnect delays: full-jitter exponential backoff (sleep = random(0, min(max, base * 2^attempt))).

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** [0, 1); Math.random unless a test injects one */
  random?: () => number;
}

/** The ceiling of the delay before retry number `attempt` (0-based). */
export function backoffCeiling(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 52));
}

/** A full-jitter delay in whole ms for retry number `attempt`. */
export function fullJitter(attempt: number, opts: BackoffOptions): number {
  const random = opts.random ?? Math.random;
  return Math.floor(random() * backoffCeiling(attempt, opts.baseMs, opts.maxMs));
}
