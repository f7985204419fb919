// Stream quotas under the per-node cap (--max-streams-per-node), so that callers without a
// credential cannot take every stream of a node from kube-apiserver. Per node, a stream counts
// against: the node cap; its listener's share (--listener-stream-share); for an unauthenticated
// caller (:10264, CONNECT without mTLS, :10263 without a certificate) the share of all of them
// together (--unauthenticated-stream-share, the rest is reserved for authenticated callers) and its
// source address's share (--source-stream-share); for an authenticated caller its identity's share
// (--caller-stream-share). Shares are percentages of the node cap. Pure: no I/O, no clock.
import type { ListenerName } from './context.js';

export interface StreamQuotaLimits {
  /** concurrent streams to one node, all listeners together */
  maxStreamsPerNode: number;
  /** % of the node cap that unauthenticated callers may hold together (0: none at all) */
  unauthenticatedShare: number;
  /** % of the node cap one unauthenticated source address may hold */
  sourceShare: number;
  /** % of the node cap one authenticated identity may hold */
  callerShare: number;
  /** % of the node cap each listener may hold (absent: 100) */
  listenerShare: Partial<Record<ListenerName, number>>;
}

export const DEFAULT_STREAM_QUOTAS: Omit<StreamQuotaLimits, 'maxStreamsPerNode'> = {
  unauthenticatedShare: 50,
  sourceShare: 25,
  callerShare: 100,
  listenerShare: {},
};

/** Which quota refused a stream (the `quota` label of edge_tunnel_stream_refusals_total). */
export const StreamQuota = {
  node: 'node',
  listener: 'listener',
  unauthenticated: 'unauthenticated',
  source: 'source',
  caller: 'caller',
} as const;
export type StreamQuota = (typeof StreamQuota)[keyof typeof StreamQuota];

/** The flag that raises each quota (named in the refusal's warn line). */
export const QUOTA_FLAG: Readonly<Record<StreamQuota, string>> = {
  node: '--max-streams-per-node',
  listener: '--listener-stream-share',
  unauthenticated: '--unauthenticated-stream-share',
  source: '--source-stream-share',
  caller: '--caller-stream-share',
};

/** One stream's place in the books. */
export interface StreamClaim {
  nodeName: string;
  listener: ListenerName;
  /** a verified certificate (:10263, mTLS CONNECT) or the CONNECT Unix socket */
  authenticated: boolean;
  /** the certificate's identity when authenticated, else the source address */
  caller: string;
  /** the node session's transport, set when the stream is opened (the `transport` label of its metrics) */
  transport?: 'tls' | 'websocket';
}

export interface QuotaRefusal {
  quota: StreamQuota;
  /** streams the quota already holds */
  open: number;
  limit: number;
}

/** `share` % of `cap`, at least 1 unless the share is 0. */
export function shareOf(cap: number, share: number): number {
  return share <= 0 ? 0 : Math.max(1, Math.floor((cap * share) / 100));
}

interface NodeBooks {
  total: number;
  unauthenticated: number;
  /** `l:<listener>`, `s:<source>`, `c:<identity>` */
  keyed: Map<string, number>;
}

const listenerKey = (c: StreamClaim): string => `l:${c.listener}`;
const callerKey = (c: StreamClaim): string => (c.authenticated ? `c:${c.caller}` : `s:${c.caller}`);

/** Open streams per node, listener, source and identity; one instance per server. */
export class StreamBooks {
  private readonly nodes = new Map<string, NodeBooks>();

  /** Counts the claim and returns undefined, or returns the first quota it would exceed (nothing counted). */
  acquire(claim: StreamClaim, limits: StreamQuotaLimits): QuotaRefusal | undefined {
    const cap = limits.maxStreamsPerNode;
    const b = this.nodes.get(claim.nodeName) ?? { total: 0, unauthenticated: 0, keyed: new Map<string, number>() };
    if (b.total >= cap) return { quota: 'node', open: b.total, limit: cap };
    const inListener = b.keyed.get(listenerKey(claim)) ?? 0;
    const listenerLimit = shareOf(cap, limits.listenerShare[claim.listener] ?? 100);
    if (inListener >= listenerLimit) return { quota: 'listener', open: inListener, limit: listenerLimit };
    if (!claim.authenticated) {
      const unauthLimit = shareOf(cap, limits.unauthenticatedShare);
      if (b.unauthenticated >= unauthLimit) return { quota: 'unauthenticated', open: b.unauthenticated, limit: unauthLimit };
    }
    const inCaller = b.keyed.get(callerKey(claim)) ?? 0;
    const callerLimit = shareOf(cap, claim.authenticated ? limits.callerShare : limits.sourceShare);
    if (inCaller >= callerLimit) return { quota: claim.authenticated ? 'caller' : 'source', open: inCaller, limit: callerLimit };
    b.total += 1;
    if (!claim.authenticated) b.unauthenticated += 1;
    b.keyed.set(listenerKey(claim), inListener + 1);
    b.keyed.set(callerKey(claim), inCaller + 1);
    this.nodes.set(claim.nodeName, b);
    return undefined;
  }

  /** The claim's stream ended (once per successful acquire). */
  release(claim: StreamClaim): void {
    const b = this.nodes.get(claim.nodeName);
    if (b === undefined) return;
    b.total -= 1;
    if (!claim.authenticated) b.unauthenticated -= 1;
    for (const key of [listenerKey(claim), callerKey(claim)]) {
      const left = (b.keyed.get(key) ?? 1) - 1;
      if (left > 0) b.keyed.set(key, left);
      else b.keyed.delete(key);
    }
    if (b.total <= 0) this.nodes.delete(claim.nodeName);
  }

  /** Streams open to `nodeName`. */
  open(nodeName: string): number {
    return this.nodes.get(nodeName)?.total ?? 0;
  }
}
