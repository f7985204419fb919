// Bearer-token callers on :10263 (cluster mode): the token is authenticated with a TokenReview and
// each request authorized with a SubjectAccessReview for the kubelet's own attributes
// (kubelet-attrs.ts), both cached as the kubelet's webhooks cache them (decision-cache.ts). The
// reviews themselves are injected (cluster/reviews.ts asks the API server).
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DecisionCache } from './decision-cache.js';
import type { Failure } from './http-errors.js';
import { formatAttributes } from './kubelet-attrs.js';
import type { NodeAttributes } from './kubelet-attrs.js';
import { tunnelError } from './tunnel-errors.js';

export interface TokenUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export type TokenReviewResult = { authenticated: true; user: TokenUser } | { authenticated: false; error?: string };
export interface AccessDecision {
  allowed: boolean;
  reason?: string;
}

/** The API calls; both reject when the API server cannot answer (nothing is cached then). */
export interface Reviews {
  reviewToken(token: string): Promise<TokenReviewResult>;
  reviewAccess(user: TokenUser, attrs: NodeAttributes): Promise<AccessDecision>;
}

export interface TokenAuthOptions {
  /** TokenReview answers, authenticated or not (kubelet: --authentication-token-webhook-cache-ttl, 2 m) */
  tokenTtlMs: number;
  /** allowed SubjectAccessReviews (kubelet: --authorization-webhook-cache-authorized-ttl, 5 m) */
  authorizedTtlMs: number;
  /** denied SubjectAccessReviews (kubelet: --authorization-webhook-cache-unauthorized-ttl, 30 s) */
  unauthorizedTtlMs: number;
  /** entries per cache */
  maxEntries: number;
  now?: () => number;
}

export const DEFAULT_TOKEN_AUTH = { tokenTtlMs: 120_000, authorizedTtlMs: 300_000, unauthorizedTtlMs: 30_000, maxEntries: 4096 } as const;

/** `Authorization: Bearer <token>` → the token; anything else undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** Removes Authorization from the request (headers and raw headers): the edge kubelet never sees the caller's token. */
export function stripAuthorization(req: IncomingMessage): void {
  delete req.headers.authorization;
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === 'authorization') raw.splice(i, 2);
}

export class TokenAuthorizer {
  readonly #reviews: Reviews;
  readonly tokens: DecisionCache<TokenReviewResult>;
  readonly access: DecisionCache<AccessDecision>;

  constructor(reviews: Reviews, opts: TokenAuthOptions) {
    this.#reviews = reviews;
    this.tokens = new DecisionCache({ positiveTtlMs: opts.tokenTtlMs, negativeTtlMs: opts.tokenTtlMs, maxEntries: opts.maxEntries, now: opts.now });
    this.access = new DecisionCache({ positiveTtlMs: opts.authorizedTtlMs, negativeTtlMs: opts.unauthorizedTtlMs, maxEntries: opts.maxEntries, now: opts.now });
  }

  /** The token's user, or 401 UNAUTHENTICATED / 503 AUTH_REVIEW_FAILED. Keyed by the token's SHA-256, never the token. */
  async authenticate(token: string): Promise<TokenUser | Failure> {
    const key = createHash('sha256').update(token).digest('hex');
    let r: TokenReviewResult;
    try {
      r = await this.tokens.get(
        key,
        () => this.#reviews.reviewToken(token),
        (v) => v.authenticated,
      );
    } catch (err) {
      return { ...tunnelError('AUTH_REVIEW_FAILED'), message: `the bearer token could not be checked: TokenReview failed: ${(err as Error).message}; retry` };
    }
    if (r.authenticated) return r.user;
    return { ...tunnelError('UNAUTHENTICATED'), message: `the bearer token was not authenticated by TokenReview${r.error ? ` (${r.error})` : ''}` };
  }

  /** undefined when allowed; else 403 TOKEN_NOT_ALLOWED naming the permission, or 503 AUTH_REVIEW_FAILED. */
  async authorize(user: TokenUser, attrs: NodeAttributes): Promise<Failure | undefined> {
    const key = JSON.stringify([user.username, user.uid ?? '', [...user.groups].sort(), user.extra ?? {}, attrs.verb, attrs.subresource, attrs.name]);
    let d: AccessDecision;
    try {
      d = await this.access.get(
        key,
        () => this.#reviews.reviewAccess(user, attrs),
        (v) => v.allowed,
      );
    } catch (err) {
      return {
        ...tunnelError('AUTH_REVIEW_FAILED'),
        message: `user ${JSON.stringify(user.username)} could not be authorized: SubjectAccessReview failed: ${(err as Error).message}; retry`,
      };
    }
    if (d.allowed) return undefined;
    return {
      ...tunnelError('TOKEN_NOT_ALLOWED'),
      message: `user ${JSON.stringify(user.username)} may not ${formatAttributes(attrs)} (missing RBAC permission: verb ${attrs.verb} on nodes/${attrs.subresource})${d.reason ? `: ${d.reason}` : ''}`,
    };
  }
}
