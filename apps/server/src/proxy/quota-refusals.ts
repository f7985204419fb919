// A stream refused by a quota (stream-quota.ts): counted on /metrics
// (edge_tunnel_stream_refusals_total{listener,quota}), logged as at most one warn line per listener
// and quota every `warnEveryMs` (a caller holding hundreds of streams must not flood the log), and
// answered 503 STREAM_LIMIT (the node cap) or 429 STREAM_QUOTA, both with Retry-After.
import type { Counter } from 'prom-client';
import type { Logger } from '../logger.js';
import type { Failure } from './http-errors.js';
import { QUOTA_FLAG, type QuotaRefusal, type StreamClaim, type StreamQuotaLimits } from './stream-quota.js';
import { tunnelError } from './tunnel-errors.js';

/** Seconds a refused caller is told to wait (Retry-After). */
export const QUOTA_RETRY_AFTER_S = 1;

/** What the operator should do about each quota. */
function hint(r: QuotaRefusal, claim: StreamClaim, limits: StreamQuotaLimits): string {
  const cap = limits.maxStreamsPerNode;
  const share = (pct: number): string => `${pct}% of --max-streams-per-node ${cap} = ${r.limit}`;
  switch (r.quota) {
    case 'node':
      return `raise --max-streams-per-node (now ${cap}) if the node can take more concurrent streams`;
    case 'listener':
      return `raise --listener-stream-share ${claim.listener}=<percent> (now ${share(limits.listenerShare[claim.listener] ?? 100)})`;
    case 'unauthenticated':
      return `callers without a credential hold their share; raise --unauthenticated-stream-share (now ${share(limits.unauthenticatedShare)}), or have the caller use :10263 with a certificate (the rest is reserved for authenticated callers)`;
    case 'source':
      return `one source address holds its share; raise --source-stream-share (now ${share(limits.sourceShare)}) if many callers share this address (a proxy or SNAT)`;
    case 'caller':
      return `one certificate identity holds its share; raise --caller-stream-share (now ${share(limits.callerShare)})`;
  }
}

export class QuotaReporter {
  private readonly windows = new Map<string, { since: number; count: number }>();

  constructor(
    private readonly counter: Counter<'listener' | 'quota'> | undefined,
    private readonly warnEveryMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts the refusal and logs it unless this listener and quota were logged within the window. */
  refused(log: Logger, claim: StreamClaim, r: QuotaRefusal, limits: StreamQuotaLimits): void {
    this.counter?.inc({ listener: claim.listener, quota: r.quota });
    const key = `${claim.listener}/${r.quota}`;
    const t = this.now();
    const w = this.windows.get(key);
    if (w !== undefined && t - w.since < this.warnEveryMs) {
      w.count += 1;
      return;
    }
    this.windows.set(key, { since: t, count: 0 });
    log.warn(
      {
        listener: claim.listener,
        nodeName: claim.nodeName,
        quota: r.quota,
        caller: claim.caller,
        authenticated: claim.authenticated,
        reason: `${r.open} open streams, limit ${r.limit}`,
        flag: QUOTA_FLAG[r.quota],
        suppressed: w?.count ?? 0,
        windowMs: this.warnEveryMs,
        hint: hint(r, claim, limits),
      },
      r.quota === 'node' ? 'stream refused: node stream limit' : `stream refused: ${r.quota} stream quota`,
    );
  }
}

/** The answer to a refused stream; the operator's sentence names the quota and its flag. */
export function quotaFailure(claim: StreamClaim, r: QuotaRefusal, where: string): Failure {
  if (r.quota === 'node') {
    return {
      ...tunnelError('STREAM_LIMIT'),
      retryAfterS: QUOTA_RETRY_AFTER_S,
      message: `${where}: ${r.open} streams are open to this node (limit ${r.limit}); retry later`,
    };
  }
  const who = r.quota === 'listener' ? `the ${claim.listener} listener` : r.quota === 'unauthenticated' ? 'callers without a credential' : `${claim.caller}`;
  return {
    ...tunnelError('STREAM_QUOTA'),
    retryAfterS: QUOTA_RETRY_AFTER_S,
    message: `${where}: ${who} already hold${r.quota === 'unauthenticated' ? '' : 's'} ${r.open} streams to this node (${r.quota} quota ${r.limit}, ${QUOTA_FLAG[r.quota]}); retry later`,
  };
}
