// A small TTL cache of authentication / authorization decisions, as the kubelet's webhook caches:
// one TTL for a positive answer, another for a negative one, a bound on entries (the oldest goes
// first), and request coalescing (concurrent asks for one key wait for one review). Failures (the
// API did not answer) are never cached.

export interface DecisionCacheOptions {
  positiveTtlMs: number;
  negativeTtlMs: number;
  maxEntries: number;
  /** clock, for tests */
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expires: number;
}

export class DecisionCache<V> {
  readonly #opts: DecisionCacheOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry<V>>();
  readonly #inflight = new Map<string, Promise<V>>();
  /** answers served from the cache (or a coalesced review) */
  hits = 0;
  /** reviews asked */
  misses = 0;

  constructor(opts: DecisionCacheOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached decision for `key`, else `ask()` (once for concurrent callers); `positive` picks the TTL. */
  async get(key: string, ask: () => Promise<V>, positive: (v: V) => boolean): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && hit.expires > this.#now()) {
      this.hits += 1;
      return hit.value;
    }
    if (hit) this.#entries.delete(key);
    const pending = this.#inflight.get(key);
    if (pending) {
      this.hits += 1;
      return pending;
    }
    this.misses += 1;
    const p = ask()
      .then((value) => {
        const ttl = positive(value) ? this.#opts.positiveTtlMs : this.#opts.negativeTtlMs;
        if (ttl > 0) this.#set(key, value, ttl);
        return value;
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  #set(key: string, value: V, ttl: number): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expires: this.#now() + ttl });
  }
}
