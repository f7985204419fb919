// Keepalive: a PING every interval, and a dead-peer verdict when no byte has arrived from the peer
// for `timeoutMs`. Each keepalive is checked once per check period, min(intervalMs, timeoutMs / 4),
// so a dead peer is detected within timeoutMs + a check period, and a PING leaves at the first check
// at least intervalMs after the last. On a slow link the verdict waits at least 4 × the smoothed
// round trip (a PONG queued behind megabytes of bulk is late, not lost).
// Every Keepalive of the process with the same check period shares one timer, so an idle session
// holds no timer of its own. The timer ticks TICKS_PER_CHECK times per period and each tick checks
// the next 1/TICKS_PER_CHECK of the keepalives (round robin), so their checks, and so their PINGs, are
// spread over the period. When one tick checked them all, sessions that attached in one burst (a
// server restart, a reconnect storm) pinged in the same macrotask: at 10 000 sessions ~5 000 PINGs,
// each a TLS write, every 7.5 s, and every request the process served meanwhile waited
// (perf/findings/2026-12-07-scrape-10000-nodes.md).

/** What a keepalive calls (the session itself: no closures per session). */
export interface KeepaliveOwner {
  /** time for a PING */
  keepalivePing(): void;
  /** the smoothed round trip, if measured */
  keepaliveSrttMs(): number | undefined;
  /** no byte from the peer for `idleMs` */
  keepaliveDead(idleMs: number): void;
}

/** Ticks of the shared timer per check period; a tick checks that share of the keepalives. */
export const TICKS_PER_CHECK = 64;

/** One unref'd interval per check period, the keepalives it checks, and where the round robin is. */
interface Ticker {
  timer: NodeJS.Timeout;
  members: Set<Keepalive>;
  /** live: a Set iterator skips members deleted and visits members added after it was made */
  cursor: Iterator<Keepalive>;
}
const tickers = new Map<number, Ticker>();

function tick(ticker: Ticker, share: number): void {
  const now = Date.now();
  let n = Math.ceil(ticker.members.size * share);
  while (n-- > 0) {
    let next = ticker.cursor.next();
    if (next.done) {
      ticker.cursor = ticker.members.values();
      next = ticker.cursor.next();
      if (next.done) return;
    }
    next.value.check(now);
  }
}

export class Keepalive {
  private lastRx = Date.now();
  private lastPing = Date.now();
  private readonly checkMs: number;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly owner: KeepaliveOwner,
  ) {
    this.checkMs = Math.max(5, Math.min(intervalMs, Math.floor(timeoutMs / 4)));
  }

  start(): void {
    let ticker = tickers.get(this.checkMs);
    if (ticker === undefined) {
      const members = new Set<Keepalive>();
      // at least 5 ms apart: a short period is covered in fewer, larger shares
      const tickMs = Math.max(5, Math.floor(this.checkMs / TICKS_PER_CHECK));
      const share = tickMs / this.checkMs;
      const t: Ticker = { timer: setInterval(() => tick(t, share), tickMs), members, cursor: members.values() };
      t.timer.unref();
      tickers.set(this.checkMs, (ticker = t));
    }
    ticker.members.add(this);
  }

  /** When (Date.now()) something last arrived from the peer (or the keepalive was made). */
  get lastRxAt(): number {
    return this.lastRx;
  }

  /** Something arrived from the peer. */
  touch(): void {
    this.lastRx = Date.now();
  }

  stop(): void {
    const ticker = tickers.get(this.checkMs);
    if (ticker === undefined || !ticker.members.delete(this)) return;
    if (ticker.members.size > 0) return;
    clearInterval(ticker.timer);
    tickers.delete(this.checkMs);
  }

  /** @internal the shared timer's round robin */
  check(now: number): void {
    const idle = now - this.lastRx;
    if (idle >= Math.max(this.timeoutMs, 4 * (this.owner.keepaliveSrttMs() ?? 0))) {
      this.stop();
      this.owner.keepaliveDead(idle);
    } else if (now - this.lastPing >= this.intervalMs) {
      this.lastPing = now;
      this.owner.keepalivePing();
    }
  }
}
