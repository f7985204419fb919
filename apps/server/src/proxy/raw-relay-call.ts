// One raw relay (the CONNECT frontend, the HTTPS listener in passthrough) from the moment its stream
// is asked for to its audit line: the stream's owner (it waits for the agent, attaches the caller's
// socket, and the stream relays by itself) and the relay's idle watch. The subclass says how a
// refusal reaches its caller (an HTTP status, a TLS alert) and what the caller sees on success.
import type { Duplex } from 'node:stream';
import { IdleSweep, type IdleWatched, type SocketStream, type SocketStreamOwner } from '@edge-tunnel/framing';
import type { ProxyContext } from './context.js';
import { streamFailure, type Failure } from './http-errors.js';
import type { StreamClaim } from './stream-quota.js';
import { CLOSED_BEFORE_OPEN, countFailed, countOpened, tunnelClosed } from './tunnel.js';

/** What a relay's audit line needs from the relay. */
export interface RelayAudit {
  nodeName: string | undefined;
  finish(patch: { status: number; reason?: string; bytesIn?: number; bytesOut?: number }): void;
}

export abstract class RawRelayCall<A extends RelayAudit> implements SocketStreamOwner, IdleWatched {
  stream: SocketStream | undefined;
  /** the stream's place in the quota books (set with the stream) */
  claim!: StreamClaim;
  private relaying = false;

  constructor(
    protected readonly ctx: ProxyContext,
    protected readonly socket: Duplex,
    readonly audit: A,
  ) {}

  /** The caller hears of a refusal (and the audit line is written). */
  abstract fail(f: Failure): void;

  /** The relay was silent both ways for idleMs: the operator's log line. */
  protected abstract idleLine(idleMs: number): void;

  /** Written to the caller once the agent accepted, before the relay starts (CONNECT: its 200). */
  protected established(): void {}

  /** Bytes both ways so far (the idle sweep's activity). */
  get bytes(): number {
    return this.stream!.sent + this.stream!.received;
  }

  /** The agent accepted the stream: the stream relays with the caller's socket from here. */
  opened(stream: SocketStream): void {
    countOpened(this.ctx, this.claim);
    if (this.socket.destroyed) {
      this.audit.finish({ status: 499, reason: 'CALLER_GONE' });
      return stream.reset('CANCEL', 'caller went away');
    }
    this.relaying = true;
    this.socket.removeListener('error', destroyOnError); // the stream listens now: an error resets it and destroys the socket
    this.established();
    stream.attach(this.socket);
    if (this.ctx.relayIdleTimeoutMs > 0) IdleSweep.of(this.ctx.relayIdleTimeoutMs).add(this);
  }

  socketLost(stream: SocketStream): void {
    stream.reset('CANCEL', 'caller went away');
  }

  closed(stream: SocketStream, err: Error | undefined): void {
    tunnelClosed(this.ctx, this.claim, stream);
    if (!stream.opened) {
      countFailed(this.ctx, err, this.claim);
      return this.fail(this.failure(stream, err ?? new Error(CLOSED_BEFORE_OPEN)));
    }
    if (this.relaying && this.ctx.relayIdleTimeoutMs > 0) IdleSweep.of(this.ctx.relayIdleTimeoutMs).delete(this);
    // a reset by the agent (its target failed) names its code; the caller's socket is gone with it.
    // bytesIn: the caller's bytes, bytesOut: the target's
    this.audit.finish({ status: 200, bytesIn: stream.sent, bytesOut: stream.received, ...(err ? { reason: this.failure(stream, err).reason } : {}) });
  }

  closeIdle(idleMs: number): void {
    this.idleLine(idleMs);
    this.stream!.reset('TIMEOUT', `relay idle for ${idleMs} ms`);
  }

  private failure(stream: SocketStream, err: unknown): Failure {
    return streamFailure(err, this.audit.nodeName!, stream.meta.host, stream.meta.port);
  }
}

/** The caller socket's error listener until the stream takes over: an error ends the socket. */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}
