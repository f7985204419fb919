// One server-opened stream: allow-list check, local dial with a timeout (never blocking other
// streams), then a byte relay both ways with backpressure and half-close.
import { connect, type Socket } from 'node:net';
import type { Stream } from '@edge-tunnel/framing';
import type { Logger } from 'pino';
import type { AllowList } from './allow-list.js';
import type { AgentMetrics } from './metrics.js';

/** Dials a local target; the socket emits 'connect' or 'error' (tests inject one that never connects). */
export type DialTarget = (host: string, port: number) => Socket;

export const dialTcp: DialTarget = (host, port) => connect({ host, port, allowHalfOpen: true });

export interface RelayContext {
  allowList: AllowList;
  dialTarget: DialTarget;
  dialTimeoutMs: number;
  metrics: AgentMetrics;
  log: Logger;
}

/** Serves one stream opened by the server. Returns at once; all work is event-driven. */
export function serveStream(stream: Stream, ctx: RelayContext): void {
  const { host, port } = stream.meta;
  const fields = { streamId: stream.id, targetHost: host, targetPort: port, traceId: stream.meta.traceId };
  stream.on('error', () => {}); // a server RESET; handled on 'close'
  const verdict = ctx.allowList.check(host, port);
  if (!verdict.allowed) {
    ctx.metrics.streams.inc({ result: 'refused' });
    ctx.log.warn({ ...fields, code: 'REFUSED', reason: verdict.reason }, 'stream refused');
    stream.refuse('REFUSED', verdict.reason);
    return;
  }
  dial(stream, ctx, fields);
}

type Fields = { streamId: number; targetHost: string; targetPort: number; traceId: unknown };

function dial(stream: Stream, ctx: RelayContext, fields: Fields): void {
  const { targetHost: host, targetPort: port } = fields;
  const started = performance.now();
  const socket = ctx.dialTarget(host, port);
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    ctx.metrics.dialDuration.observe((performance.now() - started) / 1000);
    return true;
  };
  const refuse = (code: 'CONNECT_FAILED' | 'TIMEOUT', reason: string): void => {
    if (!settle()) return;
    socket.destroy();
    ctx.metrics.streams.inc({ result: 'failed' });
    ctx.log.warn({ ...fields, code, reason }, 'target dial failed');
    stream.refuse(code, reason);
  };
  const timer = setTimeout(() => refuse('TIMEOUT', `dial ${host}:${port} timed out after ${ctx.dialTimeoutMs} ms`), ctx.dialTimeoutMs);
  socket.once('error', (err: NodeJS.ErrnoException) => refuse('CONNECT_FAILED', `dial ${host}:${port}: ${err.code ?? 'ERROR'} ${err.message}`));
  socket.once('connect', () => {
    if (!settle()) return;
    relay(stream, socket, ctx, fields, started);
  });
  stream.once('close', () => {
    if (settle()) {
      // the server reset or the session died while we were dialing
      socket.destroy();
      ctx.log.debug({ ...fields, code: stream.resetCode }, 'stream ended before the target answered');
    }
  });
}

function relay(stream: Stream, socket: Socket, ctx: RelayContext, fields: Fields, started: number): void {
  const { metrics } = ctx;
  socket.setNoDelay(true);
  stream.accept();
  metrics.streams.inc({ result: 'accepted' });
  metrics.streamsActive.inc();
  ctx.log.debug(fields, 'stream accepted');
  // pipe() honours write() and 'drain' both ways; 'end' → end() carries each FIN across.
  stream.pipe(socket);
  socket.pipe(stream);
  countBytes(socket, metrics, 'out');
  countBytes(stream, metrics, 'in');
  socket.on('error', (err: NodeJS.ErrnoException) => {
    const reason = `target ${fields.targetHost}:${fields.targetPort}: ${err.code ?? 'ERROR'} ${err.message}`;
    ctx.log.warn({ ...fields, code: 'CONNECT_FAILED', reason }, 'target connection failed');
    stream.reset('CONNECT_FAILED', reason);
  });
  stream.once('close', () => {
    metrics.streamsActive.dec();
    // A RESET (either side, or session teardown) drops the local connection at once; a clean
    // end both ways lets the socket flush what it still holds.
    if (stream.resetCode !== undefined) socket.destroy();
    ctx.log.debug({ ...fields, code: stream.resetCode, durationMs: Math.round(performance.now() - started) }, 'stream closed');
  });
}

/** Bytes a relay adds to the counter at once: a labelled inc() per chunk cost more than the relay's own work. */
const COUNT_BATCH = 1024 * 1024;

/** Counts what `from` emits into metrics.bytes{direction}, in batches of COUNT_BATCH and the rest at its end or close. */
function countBytes(from: Socket | Stream, metrics: AgentMetrics, direction: 'in' | 'out'): void {
  let pending = 0;
  const flush = (): void => {
    if (pending > 0) metrics.bytes.inc({ direction }, pending);
    pending = 0;
  };
  from.on('data', (chunk: Buffer) => {
    pending += chunk.length;
    if (pending >= COUNT_BATCH) flush();
  });
  from.once('end', flush);
  from.once('close', flush);
}
