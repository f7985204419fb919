// Bootstrap tokens and what each may enroll. The bootstrap Secret holds tokens under `token` and
// `token-<id>`; each may carry a policy under the same suffix: `nodes[-<id>]` (comma-separated node
// names: a per-node token), `expiration[-<id>]` (RFC 3339; refused after it) and `max-uses[-<id>]`
// (how many distinct nodes it may enroll, counted from the enrollment records). A policy value that
// cannot be read refuses the token (fail closed). Pure: no API call here.
import { createHash, timingSafeEqual } from 'node:crypto';

export interface BootstrapToken {
  /** the Secret key that holds it: `token` or `token-<id>` */
  key: string;
  digest: Buffer;
  /** per-node token: only these node names; absent: any edge Node (a pool token) */
  nodes?: ReadonlySet<string>;
  expiresAt?: Date;
  maxUses?: number;
  /** a policy value that cannot be read: the token is refused with this reason */
  invalid?: string;
}

/** Why a matched token may not enroll a node: a KubeErrorCode suffix and an operator sentence. */
export interface TokenRefusal {
  code: 'TOKEN_EXPIRED' | 'TOKEN_NOT_FOR_NODE' | 'TOKEN_USED_UP';
  reason: string;
}

const TOKEN_KEY = /^token(-[A-Za-z0-9._-]+)?$/;

export function digest(text: string): Buffer {
  return createHash('sha256').update(Buffer.from(text, 'utf8')).digest();
}

const decode = (value: string | undefined): string | undefined => (value ? Buffer.from(value, 'base64').toString('utf8').trim() : undefined);

/** The tokens of a Secret's `data` (base64 values), with their policies. */
export function parseTokens(data: Record<string, string>): BootstrapToken[] {
  const tokens: BootstrapToken[] = [];
  for (const [key, value] of Object.entries(data)) {
    const m = TOKEN_KEY.exec(key);
    const secret = decode(value);
    if (!m || !secret) continue;
    const suffix = m[1] ?? '';
    const token: BootstrapToken = { key, digest: digest(secret) };
    const nodes = decode(data[`nodes${suffix}`]);
    if (nodes !== undefined)
      token.nodes = new Set(
        nodes
          .split(',')
          .map((n) => n.trim().toLowerCase())
          .filter((n) => n !== ''),
      );
    const expiration = decode(data[`expiration${suffix}`]);
    if (expiration !== undefined) {
      const at = new Date(expiration);
      if (!/^\d{4}-\d\d-\d\dT/.test(expiration) || Number.isNaN(at.getTime()))
        token.invalid = `expiration${suffix} is not an RFC 3339 time: ${JSON.stringify(expiration.slice(0, 40))}`;
      else token.expiresAt = at;
    }
    const maxUses = decode(data[`max-uses${suffix}`]);
    if (maxUses !== undefined) {
      if (!/^\d{1,6}$/.test(maxUses)) token.invalid = `max-uses${suffix} is not a whole number: ${JSON.stringify(maxUses.slice(0, 20))}`;
      else token.maxUses = Number(maxUses);
    }
    tokens.push(token);
  }
  return tokens;
}

/** The token that `presented` is, compared in constant time over every token (which one matched does not leak). */
export function matchToken(tokens: readonly BootstrapToken[], presented: string): BootstrapToken | undefined {
  const d = digest(presented);
  let found: BootstrapToken | undefined;
  for (const t of tokens) if (timingSafeEqual(d, t.digest) && found === undefined) found = t;
  return found;
}

/**
 * Whether `token` may enroll `nodeName` now. `usedBy`: the nodes enrolled with this token so far
 * (enrollment records); a node already among them does not count again.
 */
export function tokenRefusal(token: BootstrapToken, nodeName: string, usedBy: readonly string[], where: string, now = new Date()): TokenRefusal | undefined {
  const name = `${where} key ${token.key}`;
  if (token.invalid !== undefined) return { code: 'TOKEN_EXPIRED', reason: `the bootstrap token ${name} is refused: ${token.invalid}; fix the Secret` };
  if (token.expiresAt !== undefined && token.expiresAt.getTime() <= now.getTime()) {
    return {
      code: 'TOKEN_EXPIRED',
      reason: `the bootstrap token ${name} expired at ${token.expiresAt.toISOString()}; create a new token (and expiration) in the Secret`,
    };
  }
  if (token.nodes !== undefined && !token.nodes.has(nodeName.toLowerCase())) {
    return {
      code: 'TOKEN_NOT_FOR_NODE',
      reason: `the bootstrap token ${name} is for node(s) ${[...token.nodes].join(', ') || 'none'}, not ${nodeName}; give node ${nodeName} its own token`,
    };
  }
  const others = usedBy.filter((n) => n !== nodeName);
  if (token.maxUses !== undefined && others.length >= token.maxUses) {
    return {
      code: 'TOKEN_USED_UP',
      reason: `the bootstrap token ${name} has enrolled ${others.length} node(s), its max-uses is ${token.maxUses}; raise max-uses or create a new token`,
    };
  }
  return undefined;
}
