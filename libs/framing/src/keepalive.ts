// Keepalive: a PING every interval, and a dead-peer verdict when no byte has arrived from the peer
// for `timeoutMs`. The check runs often enough that a dead peer is detected within
// timeoutMs + min(intervalMs, timeoutMs / 4). On a slow link the verdict waits at least 4 × the
// smoothed round trip (a PONG queued behind megabytes of bulk is late, not lost). Every Keepalive of the process with the same check
// period shares one timer, so an idle session holds no timer of its own.
// Pings are spread over the interval: each keepalive starts at a random phase (its first PING within
// one interval, then one per interval), and the shared timer ticks TICKS_PER_CHECK times per check
// period. Without that, sessions that attached in one burst (a server restart, a reconnect storm)
// ping in the same tick: 10 000 sessions sent ~5 000 PINGs, each a TLS write, in one macrotask
// every 7.5 s, and every request the process served meanwhile waited (perf/findings/2026-12-07-scrape-10000-nodes.md).

/** What a keepalive calls (the session itself: no closures per session). */
export interface KeepaliveOwner {
  /** time for a PING */
  keepalivePing(): void;
  /** the smoothed round trip, if measured */
  keepaliveSrttMs(): number | undefined;
  /** no byte from the peer for `idleMs` */
  keepaliveDead(idleMs: number): void;
}

/** Ticks of the shared timer per check period: once phases spread, a tick pings at most ~1/64 of the sessions. */
export const TICKS_PER_CHECK = 64;

/** One unref'd interval per check period, and the keepalives it checks. */
const tickers = new Map<number, { timer: NodeJS.Timeout; members: Set<Keepalive> }>();

export class Keepalive {
  private lastRx = Date.now();
  private lastPing = Date.now();
  private readonly tickMs: number;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly owner: KeepaliveOwner,
  ) {
    this.tickMs = Math.max(5, Math.floor(Math.min(intervalMs, timeoutMs / 4) / TICKS_PER_CHECK));
  }

  start(): void {
    // a random phase: the first PING within one interval (never later, the peer's timeout counts on it)
    this.lastPing = Date.now() - Math.floor(Math.random() * this.intervalMs);
    let ticker = tickers.get(this.tickMs);
    if (ticker === undefined) {
      const members = new Set<Keepalive>();
      const timer = setInterval(() => {
        const now = Date.now();
        for (const k of members) k.check(now);
      }, this.tickMs);
      timer.unref();
      tickers.set(this.tickMs, (ticker = { timer, members }));
    }
    ticker.members.add(this);
  }

  /** Something arrived from the peer. */
  touch(): void {
    this.lastRx = Date.now();
  }

  stop(): void {
    const ticker = tickers.get(this.tickMs);
    if (ticker === undefined || !ticker.members.delete(this)) return;
    if (ticker.members.size > 0) return;
    clearInterval(ticker.timer);
    tickers.delete(this.tickMs);
  }

  private check(now: number): void {
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
