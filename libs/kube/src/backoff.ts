// Capped exponential backoff with jitter, for restarting watches and retrying API writes.

export interface BackoffOptions {
  /** First delay, default 500 ms. */
  initialMs?: number;
  /** Cap, default 30 000 ms. */
  maxMs?: number;
  /** Growth per failure, default 2. */
  factor?: number;
  /** Relative jitter: each delay is scaled by a random factor in [1 − jitter, 1 + jitter]; default 0.2. */
  jitter?: number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: number;
  #attempts = 0;

  constructor(opts: BackoffOptions = {}) {
    this.#initialMs = opts.initialMs ?? 500;
    this.#maxMs = opts.maxMs ?? 30_000;
    this.#factor = opts.factor ?? 2;
    this.#jitter = Math.min(Math.max(opts.jitter ?? 0.2, 0), 1);
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** The delay before the next attempt; grows with every call until reset(). */
  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempts);
    this.#attempts++;
    const scaled = base * (1 + this.#jitter * (Math.random() * 2 - 1));
    return Math.round(Math.min(this.#maxMs, Math.max(0, scaled)));
  }

  reset(): void {
    this.#attempts = 0;
  }
}

/** A sleep that `cancel()` ends early (resolving, not rejecting). */
export function cancellableSleep(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
    timer = setTimeout(resolve, ms);
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      done();
    },
  };
}
