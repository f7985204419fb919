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

interface Entry {
  seen: number;
  quietTicks: number;
}

/** Sweeps of the process, one per idle limit. */
const sweeps = new Map<number, IdleSweep>();

export class IdleSweep {
  private readonly relays = new Map<IdleWatched, Entry>();
  private timer: NodeJS.Timeout | undefined;

  /** The sweep of every relay with this limit (ms > 0). */
  static of(ms: number): IdleSweep {
    let sweep = sweeps.get(ms);
    if (sweep === undefined) sweeps.set(ms, (sweep = new IdleSweep(ms)));
    return sweep;
  }

  private constructor(readonly ms: number) {}

  add(relay: IdleWatched): void {
    this.relays.set(relay, { seen: relay.bytes, quietTicks: 0 });
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
    for (const [relay, entry] of this.relays) {
      const bytes = relay.bytes;
      if (bytes !== entry.seen) {
        entry.seen = bytes;
        entry.quietTicks = 0;
      } else if (++entry.quietTicks >= 4) {
        this.delete(relay);
        relay.closeIdle(this.ms);
      }
    }
  }
}

function tick(sweep: IdleSweep): void {
  sweep.tick();
}
