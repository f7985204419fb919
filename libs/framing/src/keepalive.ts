// Keepalive: a PING every interval, and a dead-peer verdict when no byte has arrived from the peer
// for `timeoutMs`. The check runs often enough that a dead peer is detected within
// timeoutMs + min(intervalMs, timeoutMs / 4).

export interface KeepaliveActions {
  ping(): void;
  dead(idleMs: number): void;
}

export class Keepalive {
  private lastRx = Date.now();
  private lastPing = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly actions: KeepaliveActions,
  ) {}

  start(): void {
    const tick = Math.max(5, Math.min(this.intervalMs, Math.floor(this.timeoutMs / 4)));
    this.timer = setInterval(() => this.check(Date.now()), tick);
    this.timer.unref();
  }

  /** Something arrived from the peer. */
  touch(): void {
    this.lastRx = Date.now();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(now: number): void {
    const idle = now - this.lastRx;
    if (idle >= this.timeoutMs) {
      this.stop();
      this.actions.dead(idle);
    } else if (now - this.lastPing >= this.intervalMs) {
      this.lastPing = now;
      this.actions.ping();
    }
  }
}
