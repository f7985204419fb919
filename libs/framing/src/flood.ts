// Counts control frames per one-second window; a peer that exceeds the limit is flooding.

export class FloodGuard {
  private windowStart = 0;
  private count = 0;

  constructor(private readonly limitPerSecond: number) {}

  /** Records one control frame; returns true when the limit for this second is exceeded. */
  hit(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    return this.count > this.limitPerSecond;
  }
}
