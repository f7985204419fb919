// Reconnect delays: full-jitter exponential backoff (sleep = random(0, min(max, base * 2^attempt))),
// and a spread window after an established session was lost, so that a fleet of agents losing one
// server (killed, restarted, drained) does not come back in the same instant.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** window of the redials after an established session was lost; 0: no spread (attempt 0 as usual) */
  spreadMs?: number;
  /** [0, 1); Math.random unless a test injects one */
  random?: () => number;
  /** ms clock of the spread window; performance.now unless a test injects one */
  now?: () => number;
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

/**
 * The reconnect schedule of one dial loop. After a lost session the first redial waits
 * random(0, spreadMs); a failed redial inside that window is retried at a uniform time in what is
 * left of it (while more than baseMs is left), so agents that redialed before the server was back
 * do not bunch up when it returns. Past the window, and after any other failure, full jitter from baseMs.
 */
export class Backoff {
  /** failed attempts since the last reset, past the spread window */
  attempt = 0;
  /** end of the spread window (on the `now` clock) while it is open */
  private windowEnd: number | undefined;
  private first = false;

  constructor(private readonly opts: BackoffOptions) {}

  /** An established session ended: open the spread window, then back off from base. */
  sessionLost(): void {
    this.attempt = 0;
    const spreadMs = this.opts.spreadMs ?? 0;
    this.windowEnd = spreadMs > 0 ? this.now() + spreadMs : undefined;
    this.first = true;
  }

  /** A dial that was good enough to forget earlier failures (a long session, even if refused). */
  reset(): void {
    this.attempt = 0;
    this.windowEnd = undefined;
  }

  /** The delay in whole ms before the next dial. */
  next(): number {
    if (this.windowEnd !== undefined) {
      const leftMs = this.windowEnd - this.now();
      const first = this.first;
      this.first = false;
      if (leftMs > 0 && (first || leftMs > this.opts.baseMs)) return Math.floor((this.opts.random ?? Math.random)() * leftMs);
      this.windowEnd = undefined;
    }
    const delayMs = fullJitter(this.attempt, this.opts);
    this.attempt += 1;
    return delayMs;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : performance.now();
  }
}
