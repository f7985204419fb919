// Paces TLS handshakes on the agent port. After a server restart the whole fleet reconnects at once;
// a TLS server handshakes everything the kernel's accept backlog holds, and the handshakes then share
// the CPU and finish late together (a lump of reconnects, agents timing out mid-handshake). Here at
// most `max` handshakes are in flight: the other connections wait, paused and not yet handshaking
// (their ClientHello already read by the ClientHelloGate), in arrival order. The queue is bounded:
// beyond `maxWaiting` a new connection is refused, and one that waited longer than `waitTimeoutMs`
// is closed when its turn comes (its agent gave up; its handshake deadline would have passed too).
import type { Socket } from 'node:net';
import { TlsRefusal } from '../accept/refusals.js';

/**
 * Default of --max-agent-handshakes. 64 made a 1 000-agent reconnect storm here slower to come back
 * (×1.2–1.9, perf/fuzz/reconnect-storm.mjs): a slot is held for the peer's round trips too, not only
 * for the server's CPU, so the cap must exceed handshake rate × handshake time.
 */
export const DEFAULT_MAX_AGENT_HANDSHAKES = 256;
/** Default of --max-agent-handshake-queue: a 4 000-agent reconnect storm waits, a flood beyond is refused. */
export const DEFAULT_MAX_AGENT_HANDSHAKE_QUEUE = 4096;

export interface PacerQueueOptions {
  /** connections waiting for a slot at once; more are refused */
  maxWaiting: number;
  /** a connection that waited longer is closed at its turn */
  waitTimeoutMs: number;
  /** told of every connection the queue closes */
  refused(socket: Socket, reason: TlsRefusal): void;
}

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
  /** connections the queue closed (full, or waited too long) */
  dropped: number;
}

export class HandshakePacer {
  private inFlight = 0;
  private peak = 0;
  private paced = 0;
  private dropped = 0;
  private readonly waiting: Socket[] = [];
  private readonly since = new WeakMap<Socket, number>();

  /** `handshake` starts the TLS handshake of a connection; the caller reports its end with ended(). */
  constructor(
    private readonly max: number,
    private readonly handshake: (socket: Socket) => void,
    private readonly queue?: PacerQueueOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new connection, accepted paused: handshakes now or when a slot frees. */
  admit(socket: Socket): void {
    if (this.inFlight >= this.max) {
      if (this.queue && this.waiting.length >= this.queue.maxWaiting) return this.drop(socket, TlsRefusal.QUEUE_FULL);
      this.paced += 1;
    }
    socket.on('error', destroyQuietly); // a reset while waiting
    this.since.set(socket, this.now());
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
    return { max: this.max, inFlight: this.inFlight, waiting: this.waiting.length, peak: this.peak, paced: this.paced, dropped: this.dropped };
  }

  private drop(socket: Socket, reason: TlsRefusal): void {
    this.dropped += 1;
    this.queue?.refused(socket, reason);
    socket.destroy();
  }

  private next(): void {
    while (this.inFlight < this.max && this.waiting.length > 0) {
      const socket = this.waiting.shift()!;
      socket.off('error', destroyQuietly);
      if (socket.destroyed) continue;
      if (this.queue && this.now() - (this.since.get(socket) ?? 0) > this.queue.waitTimeoutMs) {
        this.drop(socket, TlsRefusal.QUEUE_TIMEOUT);
        continue;
      }
      this.inFlight += 1;
      this.peak = Math.max(this.peak, this.inFlight);
      this.handshake(socket);
    }
  }
}

function destroyQuietly(this: Socket): void {
  this.destroy();
}
