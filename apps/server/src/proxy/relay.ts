// Raw byte relay between a caller socket and an upstream (stream or TLS over it), both ways, with
// backpressure and half-close. Counts bytes and reads the upstream's status line for the audit.
// Per chunk it does no more than count: the idle limit is judged from those counts by one shared
// sweep, and the frames that arrive in one event-loop turn go to the caller as one write (corked).
// Per relay: one object, two splices, three shared listeners of its own (no closures, no timer).
// An upgrade relay holds the caller's bytes until the upstream answers 101: a refused upgrade
// (any other status) relays that one response, half-closes the upstream and ends the caller, so
// requests pipelined behind the upgrade never reach the target without their own audit line.
import type { Duplex } from 'node:stream';
import { IdleSweep, corkForTurn, splice, type IdleWatched, type Splice, type SpliceHooks, type Stream } from '@edge-tunnel/framing';
import type { Audit } from './audit.js';
import type { ProxyContext } from './context.js';

export interface RelayResult {
  bytesIn: number;
  bytesOut: number;
  /** the status of the upstream's first response line (upgrades), 0 if none */
  status: number;
}

export interface RelayHooks {
  /** the upstream failed before sending a byte: answer the caller (the relay is over) */
  onEarlyError(err: unknown): void;
  onDone(result: RelayResult): void;
  /** no byte either way for `idleMs`: the relay is being closed (stream reset with TIMEOUT) */
  onIdle?(idleMs: number): void;
}

/**
 * Relays caller ↔ upstream; `stream` is the tunnel stream under `upstream` (reset when the caller
 * goes). The caller's 'error' stays with the frontend, which listens before it opens the tunnel.
 * `held`: an upgrade's bytes already read past its head; caller → upstream starts only on a 101.
 */
export function relay(caller: Duplex, upstream: Duplex, stream: Stream, hooks: RelayHooks, held: Buffer, idleMs = 0): void {
  new Relay(caller, upstream, stream, hooks, held, idleMs);
}

/** The status of an upstream's first response chunk (0 when it is not a status line). */
export function statusOf(chunk: Buffer): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.subarray(0, 16).toString('latin1'));
  return m ? Number(m[1]) : 0;
}

class Relay implements SpliceHooks, IdleWatched {
  /** caller → upstream: absent until the upstream answered 101 */
  private up: Splice | undefined = undefined;
  private readonly down: Splice;
  private status = 0;
  private finished = false;
  private callerClosed = false;
  private upstreamClosed = false;

  constructor(
    private readonly caller: Duplex,
    private readonly upstream: Duplex,
    private readonly stream: Stream,
    private readonly hooks: RelayHooks,
    private held: Buffer,
    readonly idleMs: number,
  ) {
    this.down = splice(upstream, caller, this);
    (caller as Owned)[kRelay] = this;
    (upstream as Owned)[kRelay] = this;
    upstream.on('error', onUpstreamError);
    caller.on('close', onCallerClose);
    upstream.on('close', onUpstreamClose);
    if (idleMs > 0) IdleSweep.of(idleMs).add(this);
  }

  /** Total bytes both ways: the idle sweep's activity. */
  get bytes(): number {
    return (this.up?.bytes ?? 0) + this.down.bytes;
  }

  /** SpliceHooks of upstream → caller: cork for the turn; the first chunk's status opens or refuses the upgrade. */
  onData(chunk: Buffer): void {
    corkForTurn(this.caller, chunk.length);
    if (this.down.bytes !== 0 || this.callerClosed) return;
    this.status = statusOf(chunk);
    if (this.status === 101) {
      if (this.held.length > 0) this.upstream.write(this.held);
      this.up = splice(this.caller, this.upstream);
    } else {
      // refused: the caller's held and later bytes are never relayed; the upstream ends after its answer
      this.upstream.end();
    }
  }

  closeIdle(): void {
    this.hooks.onIdle?.(this.idleMs);
    this.stream.reset('TIMEOUT', `relay idle for ${this.idleMs} ms`);
    this.caller.destroy();
  }

  done(): void {
    if (this.finished) return;
    this.finished = true;
    const bytesIn = this.up ? this.held.length + this.up.bytes : 0;
    this.hooks.onDone({ bytesIn, bytesOut: this.down.bytes, status: this.status });
  }

  /** @internal */
  onUpstreamError(err: Error): void {
    if (this.down.bytes === 0 && !this.callerClosed) {
      this.up?.stop();
      this.down.stop();
      this.hooks.onEarlyError(err);
      this.finished = true;
      return;
    }
    this.caller.destroy();
  }

  /** @internal */
  onCallerClose(): void {
    this.callerClosed = true;
    if (this.idleMs > 0) IdleSweep.of(this.idleMs).delete(this);
    this.stream.reset('CANCEL', 'caller went away');
    this.upstream.destroy();
    if (this.upstreamClosed) this.done();
    else setImmediate(finish, this);
  }

  /** @internal */
  onUpstreamClose(): void {
    this.upstreamClosed = true;
    if (!this.finished && this.down.bytes > 0) {
      if (this.status === 101) this.caller.end();
      // a refused upgrade: nothing more is read from this caller, so its socket goes once the answer is out
      else this.caller.end(() => this.caller.destroy());
    }
    if (this.callerClosed) this.done();
  }
}

// Listeners shared by every relay: each finds its relay on the stream it listens to (a property
// instead of a bound function per listener).
const kRelay = Symbol('relay');
type Owned = { [kRelay]?: Relay };

function onUpstreamError(this: Owned, err: Error): void {
  this[kRelay]?.onUpstreamError(err);
}
function onCallerClose(this: Owned): void {
  this[kRelay]?.onCallerClose();
}
function onUpstreamClose(this: Owned): void {
  this[kRelay]?.onUpstreamClose();
}

function finish(relay: Relay): void {
  relay.done();
}

/** The warn line of a relay closed for idleness (its audit line follows with reason TIMEOUT). */
export function idleLine(ctx: ProxyContext, audit: Audit, idleMs: number): void {
  const { nodeName, port, traceId } = audit;
  ctx.log.warn({ listener: ctx.listener, nodeName, port, traceId, reason: `no byte either way for ${idleMs} ms` }, 'relay closed: idle timeout');
  audit.reason = 'IDLE_TIMEOUT';
}
