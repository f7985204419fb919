// Raw byte relay between a caller socket and an upstream (stream or TLS over it), both ways, with
// backpressure and half-close. Counts bytes and reads the upstream's status line for the audit.
import type { Duplex } from 'node:stream';
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
  const idle = idleMs > 0 ? idleTimer(idleMs, () => {
    hooks.onIdle?.(idleMs);
    stream.reset('TIMEOUT', `relay idle for ${idleMs} ms`);
    caller.destroy();
  }) : undefined;
  caller.on('data', () => idle?.touch());
  upstream.on('data', () => idle?.touch());
  caller.once('close', () => idle?.stop());
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

/** Calls `onIdle` once no touch() happened for `ms`; one unref'd timer, re-armed lazily. */
function idleTimer(ms: number, onIdle: () => void): { touch(): void; stop(): void } {
  let last = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    const quiet = Date.now() - last;
    if (quiet >= ms) {
      timer = undefined;
      onIdle();
    } else {
      arm(ms - quiet);
    }
  };
  const arm = (delay: number): void => {
    timer = setTimeout(check, delay);
    timer.unref();
  };
  arm(ms);
  return {
    touch: () => void (last = Date.now()),
    stop: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** The warn line of a relay closed for idleness (its audit line follows with reason TIMEOUT). */
export function idleLine(ctx: ProxyContext, audit: Audit, idleMs: number): void {
  const { nodeName, port, traceId } = audit.record;
  ctx.log.warn({ listener: ctx.listener, nodeName, port, traceId, reason: `no byte either way for ${idleMs} ms` }, 'relay closed: idle timeout');
  audit.record.reason = 'IDLE_TIMEOUT';
}
