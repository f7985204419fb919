import type { ServerResponse } from 'node:http';
import type { ContainerRef, KubeletContext } from './context.js';
import { LogCursor } from './log-files.js';
import { formatEntry, parseLogQuery, selectInitial } from './log-format.js';
import type { LogEntry, LogQuery } from './log-format.js';
import { sendText } from './http-util.js';

/** How often a follower looks at its file for lines written by other processes. */
export const FOLLOW_POLL_MS = 50;

/** Why a follow ended, as given in the 'follow-end' event. */
export type FollowEndReason = 'client-closed' | 'limit-reached' | 'kubelet-closed';

export interface FollowEvent extends ContainerRef {
  reason?: FollowEndReason;
  durationMs?: number;
  bytesOut?: number;
}

/** Writes formatted entries to the response, stopping at limitBytes. */
class LogOutput {
  bytes = 0;

  constructor(
    readonly res: ServerResponse,
    readonly query: LogQuery,
  ) {}

  get full(): boolean {
    return this.query.limitBytes !== undefined && this.bytes >= this.query.limitBytes;
  }

  /** Returns write()'s backpressure signal. */
  write(entries: LogEntry[]): boolean {
    if (entries.length === 0 || this.full) return true;
    let chunk = Buffer.from(entries.map((e) => formatEntry(e, this.query.timestamps)).join(''));
    if (this.query.limitBytes !== undefined) chunk = chunk.subarray(0, this.query.limitBytes - this.bytes);
    this.bytes += chunk.length;
    return this.res.write(chunk);
  }
}

/** GET /containerLogs/{ns}/{pod}/{container} */
export function handleContainerLogs(ctx: KubeletContext, res: ServerResponse, ref: ContainerRef, params: URLSearchParams): void {
  const pod = ctx.pods.lookup(ref.namespace, ref.pod, ref.container);
  if (typeof pod === 'string') return sendText(res, 404, pod);
  const query = parseLogQuery(params);
  if (typeof query === 'string') return sendText(res, 400, query);

  const path = ctx.logs.pathOf(pod, ref.container);
  const cursor = new LogCursor(path);
  const out = new LogOutput(res, query);
  res.writeHead(200, { 'content-type': 'text/plain' });
  out.write(selectInitial(cursor.read(), query, Date.now()));
  if (!query.follow || out.full) {
    res.end();
    return;
  }
  res.flushHeaders();
  follow(ctx, ref, path, cursor, out);
}

function follow(ctx: KubeletContext, ref: ContainerRef, path: string, cursor: LogCursor, out: LogOutput): void {
  const started = Date.now();
  let stopped = false;
  let draining = false;

  const pump = (): void => {
    if (stopped || draining) return;
    const ok = out.write(cursor.read());
    if (out.full) return stop('limit-reached');
    if (!ok) {
      draining = true;
      out.res.once('drain', () => {
        draining = false;
        pump();
      });
    }
  };
  const stop = (reason: FollowEndReason): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    unsubscribe();
    ctx.followers.delete(stopByKubelet);
    if (!out.res.writableEnded) out.res.end();
    const event: FollowEvent = { ...ref, reason, durationMs: Date.now() - started, bytesOut: out.bytes };
    ctx.events.emit('follow-end', event);
  };
  const stopByKubelet = (): void => stop('kubelet-closed');

  const timer = setInterval(pump, FOLLOW_POLL_MS);
  const unsubscribe = ctx.logs.onAppend(path, pump);
  ctx.followers.add(stopByKubelet);
  out.res.on('close', () => stop('client-closed'));
  ctx.events.emit('follow-start', { ...ref } satisfies FollowEvent);
}
