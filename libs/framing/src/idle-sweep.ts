// Idle limits of many relays at the cost of one timer: relays with the same limit share one unref'd
// interval of limit/4 (running only while it has relays), which compares each relay's byte count with
// the one it saw last; four ticks without a change close the relay, i.e. after limit to 1.25 × limit of
// quiet. No clock read per chunk, no timer per relay.

/** What the sweep watches: a byte count that moves while the relay is alive, and how to close it. */
export interface IdleWatched {
  /** bytes both ways so far */
  readonly bytes: number;
  /** called once, after the limit passed without a byte */
  closeIdle(idleMs: number): void;
}

/** Sweeps of the process, one per idle limit. */
const sweeps = new Map<number, IdleSweep>();

// Per relay the sweep keeps one number, the byte count it saw and the quiet ticks since, packed as
// seen × 8 + ticks (an object per relay cost ~40 B; a small number is stored inline). Exact up to
// 2^50 bytes (1 PiB) per relay.
const TICKS = 8;

export class IdleSweep {
  private readonly relays = new Map<IdleWatched, number>();
  private timer: NodeJS.Timeout | undefined;

  /** The sweep of every relay with this limit (ms > 0). */
  static of(ms: number): IdleSweep {
    let sweep = sweeps.get(ms);
    if (sweep === undefined) sweeps.set(ms, (sweep = new IdleSweep(ms)));
    return sweep;
  }

  private constructor(readonly ms: number) {}

  add(relay: IdleWatched): void {
    this.relays.set(relay, relay.bytes * TICKS);
    if (this.timer !== undefined) return;
    this.timer = setInterval(tick, Math.max(10, Math.ceil(this.ms / 4)), this);
    this.timer.unref();
  }

  delete(relay: IdleWatched): void {
    if (!this.relays.delete(relay) || this.relays.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sweep over the relays (the timer's work; exported for tests that drive it). */
  tick(): void {
    for (const [relay, packed] of this.relays) {
      const bytes = relay.bytes;
      const quietTicks = packed % TICKS;
      if (bytes * TICKS !== packed - quietTicks) {
        this.relays.set(relay, bytes * TICKS);
      } else if (quietTicks + 1 >= 4) {
        this.delete(relay);
        relay.closeIdle(this.ms);
      } else {
        this.relays.set(relay, packed + 1);
      }
    }
  }
}

function tick(sweep: IdleSweep): void {
  sweep.tick();
}
