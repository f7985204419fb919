// A session's PING round trips: the PINGs awaiting their PONG, and what the answers measured — the
// last sample, the smallest (the path's own delay, without the queues behind it) and the smoothed
// one (RFC 6298's 1/8 gain, which the keepalive's dead-peer verdict respects).

interface Pending {
  start: number;
  resolve: (ms: number) => void;
  reject: (e: Error) => void;
}

export class RoundTrips {
  lastMs: number | undefined;
  minMs: number | undefined;
  srttMs: number | undefined;
  /** created per ping: an idle session holds no Map between pings */
  private pending: Map<number, Pending> | undefined;
  private seq = 0;

  /** a PING is awaiting its PONG */
  get inFlight(): boolean {
    return this.pending !== undefined;
  }

  /** A new PING: its 8-byte payload, and the round trip in ms once `pong()` matches it. */
  start(): { payload: Buffer; done: Promise<number> } {
    const seq = ++this.seq;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(seq, 4);
    const done = new Promise<number>((resolve, reject) => (this.pending ??= new Map()).set(seq, { start: performance.now(), resolve, reject }));
    return { payload, done };
  }

  /** A PONG with sequence `seq` arrived; unknown sequences are ignored. */
  pong(seq: number): void {
    const p = this.pending?.get(seq);
    if (p === undefined) return;
    this.pending!.delete(seq);
    if (this.pending!.size === 0) this.pending = undefined;
    const ms = performance.now() - p.start;
    this.lastMs = ms;
    this.minMs = Math.min(this.minMs ?? Infinity, ms);
    this.srttMs = this.srttMs === undefined ? ms : this.srttMs + (ms - this.srttMs) / 8;
    p.resolve(ms);
  }

  /** The session ended: every PING still waiting fails with `err`. */
  failAll(err: Error): void {
    for (const p of this.pending?.values() ?? []) p.reject(err);
    this.pending = undefined;
  }
}
