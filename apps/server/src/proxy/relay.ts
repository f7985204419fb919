// Raw byte relay between a caller socket and an upstream (stream or TLS over it), both ways, with
// backpressure and half-close. Counts bytes and reads the upstream's status line for the audit.
// Per chunk it does no more than count: the idle limit is judged from those counts by a timer, and
// the frames that arrive in one event-loop turn go to the caller as one write (corked).
import type { Duplex, Writable } from 'node:stream';
import type { Stream } from '@edge-tunnel/framing';
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

/** Pipes caller ↔ upstream; `stream` is the tunnel stream under `upstream` (reset when the caller goes). */
export function relay(caller: Duplex, upstream: Duplex, stream: Stream, hooks: RelayHooks, sniffStatus: boolean, idleMs = 0): void {
  const result: RelayResult = { bytesIn: 0, bytesOut: 0, status: 0 };
  const idle = idleMs > 0 ? idleWatch(idleMs, () => result.bytesIn + result.bytesOut, () => {
    hooks.onIdle?.(idleMs);
    stream.reset('TIMEOUT', `relay idle for ${idleMs} ms`);
    caller.destroy();
  }) : undefined;
  caller.once('close', () => idle?.stop());
  const coalesce = coalescer(caller);
  let finished = false;
  let callerClosed = false;
  let upstreamClosed = false;
  const done = (): void => {
    if (finished) return;
    finished = true;
    hooks.onDone(result);
  };
  caller.on('data', (chunk: Buffer) => (result.bytesIn += chunk.length));
  upstream.on('data', (chunk: Buffer) => {
    coalesce();
    if (result.bytesOut === 0 && sniffStatus) {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.subarray(0, 16).toString('latin1'));
      result.status = m ? Number(m[1]) : 0;
    }
    result.bytesOut += chunk.length;
  });
  caller.pipe(upstream);
  upstream.pipe(caller);
  upstream.on('error', (err) => {
    if (result.bytesOut === 0 && !callerClosed) {
      caller.unpipe(upstream);
      upstream.unpipe(caller);
      hooks.onEarlyError(err);
      finished = true;
      return;
    }
    caller.destroy();
  });
  caller.on('error', () => caller.destroy());
  caller.on('close', () => {
    callerClosed = true;
    stream.reset('CANCEL', 'caller went away');
    upstream.destroy();
    if (upstreamClosed) done();
    else setImmediate(done);
  });
  upstream.on('close', () => {
    upstreamClosed = true;
    if (!finished && result.bytesOut > 0) caller.end();
    if (callerClosed) done();
  });
}

/**
 * Calls `onIdle` once `activity()` (a byte count) has not changed for `ms`. One unref'd interval of
 * ms/4 per relay instead of a clock read per chunk: the relay closes after ms to 1.25 × ms of quiet.
 */
function idleWatch(ms: number, activity: () => number, onIdle: () => void): { stop(): void } {
  let seen = activity();
  let changedAt = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const current = activity();
    if (current !== seen) {
      seen = current;
      changedAt = now;
    } else if (now - changedAt >= ms) {
      clearInterval(timer);
      onIdle();
    }
  }, Math.max(10, Math.ceil(ms / 4)));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Call before each write to `socket`: the first write of an event-loop turn corks it and the turn's
 * end (setImmediate) uncorks, so the frames the session socket's reads of one turn deliver leave in
 * one writev, not one syscall each (4 → 1 per 64 KiB on loopback). Not nextTick: ticks run after
 * every decrypted TLS record, which is one frame. Needs a writable highWaterMark of several frames
 * (`proxyServerOptions`), or the pipe pauses after the first.
 */
export function coalescer(socket: Writable): () => void {
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    socket.cork();
    setImmediate(uncork);
  };
}

/** The warn line of a relay closed for idleness (its audit line follows with reason TIMEOUT). */
export function idleLine(ctx: ProxyContext, audit: Audit, idleMs: number): void {
  const { nodeName, port, traceId } = audit.record;
  ctx.log.warn({ listener: ctx.listener, nodeName, port, traceId, reason: `no byte either way for ${idleMs} ms` }, 'relay closed: idle timeout');
  audit.record.reason = 'IDLE_TIMEOUT';
}
