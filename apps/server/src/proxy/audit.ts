// One audit line per proxied request, at info: who asked for what, where it went, how it ended.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { callerIdentityOf } from './caller-auth.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { ListenerName } from './context.js';

export interface AuditRecord {
  listener: ListenerName;
  /** client certificate CN on the HTTPS listener, else the remote address */
  caller: string;
  nodeName?: string;
  port?: number;
  method: string;
  /** the path without its query (queries may carry commands or tokens) */
  path: string;
  status: number;
  /** bytes from the caller (request body or raw upstream bytes) */
  bytesIn: number;
  /** bytes to the caller (response body or raw downstream bytes) */
  bytesOut: number;
  durationMs: number;
  traceId: string;
  /** why the request failed, when it did */
  reason?: string;
  /** the operator's sentence of a failure whose body the caller got without it (caller-view.ts) */
  detail?: string;
}

/** The id that follows a request into the agent: the caller's X-Request-Id, or a fresh one. */
export function traceIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given)) return given;
  return freshTraceId();
}

/** One randomBytes draw per 512 fresh ids: a draw per id cost ~10 µs, 2 % of a CONNECT's server CPU. */
const TRACE_IDS_PER_DRAW = 512;
let traceIdPool = Buffer.alloc(0);
let traceIdAt = 0;

/** 16 hex digits, 64 random bits (as unique and unguessable as before), from a pool refilled every 512 ids. */
export function freshTraceId(): string {
  if (traceIdAt === traceIdPool.length) {
    traceIdPool = randomBytes(8 * TRACE_IDS_PER_DRAW);
    traceIdAt = 0;
  }
  traceIdAt += 8;
  return traceIdPool.toString('hex', traceIdAt - 8, traceIdAt);
}

/** Requests whose caller a bearer token authenticated (token-auth.ts): the token's user name. */
export const tokenUsers = new WeakMap<IncomingMessage, string>();

/** The token's user, the client certificate CN (authorized TLS callers), or `address:port`. */
export function callerOf(req: IncomingMessage): string {
  const user = tokenUsers.get(req);
  if (user !== undefined) return user;
  const cn = callerIdentityOf(req)?.commonName;
  if (cn !== undefined && cn !== '') return cn;
  // join() builds one flat string; a template literal keeps a cons string of three parts (88 B, held
  // for the life of every relay's audit record)
  return [req.socket.remoteAddress, req.socket.remotePort].join(':');
}

/** What a frontend may set when the request ends. */
export type AuditPatch = Partial<Pick<AuditRecord, 'status' | 'bytesIn' | 'bytesOut' | 'reason' | 'detail'>>;

/**
 * Tracks one request from arrival to the audit line; `finish()` logs once. Its fields are the line's
 * (one object per request: no separate record, so a long relay holds ~40 B less).
 */
export class Audit {
  readonly listener: ListenerName;
  readonly caller: string;
  nodeName: string | undefined = undefined;
  port: number | undefined = undefined;
  readonly method: string;
  readonly path: string;
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly traceId: string;
  reason: string | undefined = undefined;
  detail: string | undefined = undefined;
  readonly #log: Logger;
  readonly #metrics: ServerMetrics;
  readonly #started = performance.now();
  #done = false;

  constructor(log: Logger, metrics: ServerMetrics, listener: ListenerName, req: IncomingMessage, traceId: string) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.#log = log;
    this.#metrics = metrics;
    this.listener = listener;
    this.caller = callerOf(req);
    this.method = req.method ?? 'GET';
    this.path = q < 0 ? url : url.slice(0, q);
    this.traceId = traceId;
  }

  finish(patch: AuditPatch = {}): void {
    if (this.#done) return;
    this.#done = true;
    Object.assign(this, patch);
    const seconds = (performance.now() - this.#started) / 1000;
    const { listener, caller, nodeName, port, method, path, status, bytesIn, bytesOut, traceId, reason, detail } = this;
    const record: AuditRecord = {
      listener,
      caller,
      nodeName,
      port,
      method,
      path,
      status,
      bytesIn,
      bytesOut,
      durationMs: Math.round(seconds * 1_000_000) / 1000,
      traceId,
      reason,
      detail,
    };
    this.#metrics.requestDuration.observe({ listener, status: String(status) }, seconds);
    this.#log.info(record, 'audit');
  }
}
