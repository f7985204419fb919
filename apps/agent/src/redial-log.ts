// The `connect failed` lines of a resume's redials, aggregated. The race dials every 250–500 ms, so
// against a server that refuses at once (ECONNREFUSED: the replica is down, its port closed) every
// dial failed on a line of its own, 2–4 lines a second through the whole grace. Now the first
// failure is logged at once, then at most one line per REDIAL_LOG_EVERY_MS with the count of the
// failures since the line before and the last one's reason; the rest is logged when the resume ends
// (resumed, refused, or the grace passed). Each line names the address dialed (`target`: the
// replica's advertised address, or --server / --ws-url), as its reason does.
import type { Logger } from 'pino';
import { ConnectResult } from './metrics.js';
import type { DialFailure } from './transport-choice.js';

/** At most one `connect failed` line of a resume's redials per this long (after the first). */
export const REDIAL_LOG_EVERY_MS = 10_000;

export class RedialFailureLog {
  /** failures since the last line */
  private pending = 0;
  private last: { failure: DialFailure; target: string | undefined } | undefined;
  private lastLineAt: number | undefined;
  private firstPendingAt = 0;
  /** failures in all */
  total = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs = REDIAL_LOG_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** One redial failed (`target`: the address dialed). */
  failed(failure: DialFailure, target: string | undefined): void {
    const now = this.now();
    this.total += 1;
    if (this.pending === 0) this.firstPendingAt = now;
    this.pending += 1;
    this.last = { failure, target };
    if (this.lastLineAt === undefined || now - this.lastLineAt >= this.everyMs) this.flush();
  }

  /** Logs the failures not logged yet, if any (the resume ended, or the period passed). */
  flush(): void {
    const last = this.last;
    if (this.pending === 0 || last === undefined) return;
    const now = this.now();
    const { kind, code, reason } = last.failure;
    const fields = {
      code,
      reason,
      ...(last.target !== undefined ? { target: last.target } : {}),
      redial: true,
      // the first line is one failure; a summary says how many and over how long
      ...(this.lastLineAt === undefined ? {} : { failures: this.pending, overMs: now - this.firstPendingAt, totalFailures: this.total }),
    };
    this.pending = 0;
    this.lastLineAt = now;
    // unreachable may be a passing network problem (the outage the resume waits out); anything else needs an operator
    this.log[kind === ConnectResult.UNREACHABLE ? 'warn' : 'error'](fields, 'connect failed');
  }
}
