// TokenReview (authentication.k8s.io/v1) and SubjectAccessReview (authorization.k8s.io/v1), as a
// webhook-delegating component (a kubelet, the tunnel server) asks them: a table of tokens → users
// and RBAC-like allow rules, both mutable while the server runs (`api.auth`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StatusError, badRequest } from './errors.js';
import { readBody, parseJson, sendJson } from './http.js';

export interface FakeUser {
  username: string;
  uid?: string;
  groups?: string[];
}

/** Allows `verbs` on `resources` (`nodes/proxy`, `nodes/*`, `nodes`, `*`) to `users` / `groups`, optionally only for `names`. */
export interface AccessRule {
  users?: string[];
  groups?: string[];
  verbs: string[];
  resources: string[];
  names?: string[];
}

export interface AuthTable {
  /** bearer token → its user */
  tokens: Record<string, FakeUser>;
  rules: AccessRule[];
}

export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
export const ACCESS_REVIEW_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

export function isReviewPath(path: string): boolean {
  return path === TOKEN_REVIEW_PATH || path === ACCESS_REVIEW_PATH;
}

interface ResourceAttributes {
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  namespace?: string;
}

/** Whether `rule` allows the user (name, groups) the attributes. */
export function ruleAllows(rule: AccessRule, user: string, groups: readonly string[], a: ResourceAttributes): boolean {
  const who = (rule.users ?? []).includes(user) || (rule.groups ?? []).some((g) => groups.includes(g));
  if (!who) return false;
  if (!rule.verbs.includes('*') && !rule.verbs.includes(a.verb ?? '')) return false;
  const res = a.resource ?? '';
  const full = a.subresource ? `${res}/${a.subresource}` : res;
  if (!rule.resources.some((r) => r === '*' || r === full || r === `${res}/*`)) return false;
  return rule.names === undefined || rule.names.includes(a.name ?? '');
}

export async function serveReview(table: AuthTable, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (req.method !== 'POST') throw new StatusError('MethodNotAllowed', `the server does not allow this method on the requested resource: ${req.method}`);
  const body = parseJson(await readBody(req)) as { spec?: Record<string, unknown> };
  const spec = body?.spec;
  if (typeof spec !== 'object' || spec === null) throw badRequest('spec is required');
  if (path === TOKEN_REVIEW_PATH) {
    const token = spec['token'];
    if (typeof token !== 'string' || token === '') throw badRequest('spec.token: Required value');
    const user = Object.hasOwn(table.tokens, token) ? table.tokens[token] : undefined;
    const status = user
      ? {
          authenticated: true,
          user: { username: user.username, uid: user.uid ?? `uid-${user.username}`, groups: [...(user.groups ?? []), 'system:authenticated'] },
        }
      : { authenticated: false, user: {}, error: 'invalid bearer token' };
    return sendJson(res, 201, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: {}, spec: { token }, status });
  }
  const user = typeof spec['user'] === 'string' ? spec['user'] : '';
  const groups = Array.isArray(spec['groups']) ? (spec['groups'] as unknown[]).filter((g): g is string => typeof g === 'string') : [];
  const attrs = spec['resourceAttributes'] as ResourceAttributes | undefined;
  if (user === '' && groups.length === 0) throw badRequest('at least one of user or group must be specified');
  if (attrs === undefined) throw badRequest('resourceAttributes is required (nonResourceAttributes are not served)');
  const i = table.rules.findIndex((r) => ruleAllows(r, user, groups, attrs));
  const what = `${attrs.verb} ${attrs.resource}${attrs.subresource ? `/${attrs.subresource}` : ''} ${JSON.stringify(attrs.name ?? '')}`;
  const status =
    i >= 0 ? { allowed: true, reason: `allowed by rule ${i}` } : { allowed: false, reason: `no rule allows user ${JSON.stringify(user)} to ${what}` };
  return sendJson(res, 201, { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: {}, spec, status });
}
