// Paces TLS handshakes on the agent port. After a server restart the whole fleet reconnects at once;
// a TLS server handshakes everything the kernel's accept backlog holds, and the handshakes then share
// the CPU and finish late together (a lump of reconnects, agents timing out mid-handshake). Here at
// most `max` handshakes are in flight: the other connections wait, paused and not yet handshaking
// (their ClientHello stays in the kernel's buffer), in arrival order. No connection is refused for
// pacing; a waiting one whose agent gave up fails its handshake at once when its turn comes.
import type { Socket } from 'node:net';

/**
 * Default of --max-agent-handshakes. 64 made a 1 000-agent reconnect storm here slower to come back
 * (×1.2–1.9, perf/fuzz/reconnect-storm.mjs): a slot is held for the peer's round trips too, not only
 * for the server's CPU, so the cap must exceed handshake rate × handshake time.
 */
export const DEFAULT_MAX_AGENT_HANDSHAKES = 256;

export interface PacerStats {
  /** the cap */
  max: number;
  /** handshakes started and not yet ended */
  inFlight: number;
  /** connections waiting for a slot */
  waiting: number;
  /** the most handshakes ever in flight at once */
  peak: number;
  /** connections that had to wait */
  paced: number;
}

export class HandshakePacer {
  private inFlight = 0;
  private peak = 0;
  private paced = 0;
  private readonly waiting: Socket[] = [];

  /** `handshake` starts the TLS handshake of a connection; the caller reports its end with ended(). */
  constructor(private readonly max: number, private readonly handshake: (socket: Socket) => void) {}

  /** A new connection, accepted paused: handshakes now or when a slot frees. */
  admit(socket: Socket): void {
    if (this.inFlight >= this.max) this.paced += 1;
    socket.on('error', destroyQuietly); // a reset while waiting
    this.waiting.push(socket);
    this.next();
  }

  /** A handshake ended (secure or failed): its slot goes to the next waiting connection. */
  ended(): void {
    this.inFlight -= 1;
    this.next();
  }

  /** Closes every waiting connection (the listener is closing). */
  dropWaiting(): void {
    for (const socket of this.waiting.splice(0)) socket.destroy();
  }

  stats(): PacerStats {
    return { max: this.max, inFlight: this.inFlight, waiting: this.waiting.length, peak: this.peak, paced: this.paced };
  }

  private next(): void {
    while (this.inFlight < this.max && this.waiting.length > 0) {
      const socket = this.waiting.shift()!;
      socket.off('error', destroyQuietly);
      if (socket.destroyed) continue;
      this.inFlight += 1;
      this.peak = Math.max(this.peak, this.inFlight);
      this.handshake(socket);
    }
  }
}

function destroyQuietly(this: Socket): void {
  this.destroy();
}
