// The session's PINGs: answering the peer's, the keepalive's (keepalive.ts: a PING every interval,
// a dead-peer verdict after silence), and RTT probes — one early, and at most one per RTT_PROBE_MS
// while the peer reports BLOCKED streams, so window growth judges against a fresh smallest round
// trip. The samples are kept by `round-trips.ts`.
import { Flag, FrameType } from './constants.js';
import { encodeFrame } from './frame.js';
import { Keepalive, type KeepaliveOwner } from './keepalive.js';
import { RoundTrips } from './round-trips.js';
import type { FrameWriter } from './writer.js';

/** At most one extra RTT probe (PING) per this many ms, sent while the peer reports BLOCKED streams. */
export const RTT_PROBE_MS = 1_000;

/** Who hears the keepalive's verdict (the session). */
export type DeadPeerOwner = Pick<KeepaliveOwner, 'keepaliveDead'>;

export class RttProbe extends RoundTrips implements KeepaliveOwner {
  private blockedProbeAt = 0;
  private readonly keepalive: Keepalive;

  constructor(
    private readonly writer: FrameWriter,
    intervalMs: number,
    timeoutMs: number,
    private readonly owner: DeadPeerOwner,
  ) {
    super();
    this.keepalive = new Keepalive(intervalMs, timeoutMs, this);
  }

  /** Starts the keepalive. */
  startKeepalive(): void {
    this.keepalive.start();
  }

  /** Something arrived from the peer: it is alive. */
  touch(): void {
    this.keepalive.touch();
  }

  /** The session ended: no more keepalive, and every PING still waiting fails with `err`. */
  stop(err: Error): void {
    this.keepalive.stop();
    this.failAll(err);
  }

  /** @internal KeepaliveOwner */
  keepalivePing(): void {
    this.probe();
  }

  /** @internal KeepaliveOwner */
  keepaliveSrttMs(): number | undefined {
    return this.srttMs;
  }

  /** @internal KeepaliveOwner */
  keepaliveDead(idleMs: number): void {
    this.owner.keepaliveDead(idleMs);
  }

  /** Sends one PING; resolves with the round trip in ms. */
  ping(): Promise<number> {
    const { payload, done } = this.start();
    this.writer.sendControl(encodeFrame(FrameType.PING, 0, 0, payload));
    return done;
  }

  /** A PING from the peer: PING|ACK with the same payload. */
  answer(payload: Buffer): void {
    this.writer.sendControl(encodeFrame(FrameType.PING, Flag.ACK, 0, payload));
  }

  /** A PING whose answer only feeds the samples (the session may end before it comes). */
  probe(): void {
    void this.ping().catch(() => {});
  }

  /** The peer reported a BLOCKED stream at `now` (performance.now()): probe unless one did recently or is in flight. */
  probeWhileBlocked(now: number): void {
    if (now - this.blockedProbeAt < RTT_PROBE_MS || this.inFlight) return;
    this.blockedProbeAt = now;
    this.probe();
  }
}
