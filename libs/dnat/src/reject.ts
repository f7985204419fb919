// Why an entry of the port ConfigMap was rejected, as a stable code plus a sentence for operators.
import { CONFIG_KEYS, CONFIG_MAP, ConfigKey, Ports } from './constants.js';
import type { Channel } from './constants.js';

/** Stable codes of rejected ConfigMap entries. */
export const RejectCode = {
  /** not an integer in 1..65535 */
  INVALID_PORT: 'INVALID_PORT',
  /** a `dnat-ports-pair` entry that is not `port=10264` */
  INVALID_PAIR: 'INVALID_PAIR',
  /** a built-in kubelet port (10250, 10255) or a port of the tunnel itself (10262-10266) */
  RESERVED_PORT: 'RESERVED_PORT',
  /** the port was already declared for the other channel by an earlier key */
  CONFLICT: 'CONFLICT',
  /** a key this lib does not know (typo?) */
  UNKNOWN_KEY: 'UNKNOWN_KEY',
  /**
   * the port was already declared for the same channel (same key, or `dnat-ports-pair` and
   * `http-proxy-ports`), or listed twice in `localhost-proxy-ports`; the port still applies
   */
  DUPLICATE_ENTRY: 'DUPLICATE_ENTRY',
  /** nothing between two commas, or a trailing/leading comma, in a value that has entries */
  EMPTY_ENTRY: 'EMPTY_ENTRY',
} as const;
export type DnatRejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/**
 * One rejected entry; the other entries of the same key still apply. DUPLICATE_ENTRY and EMPTY_ENTRY
 * are redundant, not harmful: the config is the same as without them.
 */
export interface RejectedEntry {
  /** the ConfigMap key the entry came from */
  readonly key: string;
  /** the entry as written (trimmed; '' for EMPTY_ENTRY), or the whole value for UNKNOWN_KEY */
  readonly entry: string;
  readonly code: DnatRejectCode;
  /** a full sentence naming the key, the entry and what to do */
  readonly reason: string;
}

function reject(key: string, entry: string, code: DnatRejectCode, why: string): RejectedEntry {
  const reason = `${CONFIG_MAP} key ${key}: entry '${entry}' was ignored: ${why}`;
  return Object.freeze({ key, entry, code, reason });
}

export function invalidPort(key: string, entry: string, text: string): RejectedEntry {
  return reject(key, entry, RejectCode.INVALID_PORT, `'${text}' is not a port number; use an integer from 1 to 65535.`);
}

export function invalidPairShape(key: string, entry: string): RejectedEntry {
  return reject(key, entry, RejectCode.INVALID_PAIR, `expected 'port=${Ports.SERVER_HTTP}', for example '9051=${Ports.SERVER_HTTP}'.`);
}

export function invalidPairTarget(key: string, entry: string, rhs: string): RejectedEntry {
  const hint =
    rhs === String(Ports.SERVER_HTTPS)
      ? `for HTTPS ports, list the port in ${ConfigKey.HTTPS_PROXY_PORTS} instead.`
      : `use ${ConfigKey.HTTPS_PROXY_PORTS} for HTTPS ports.`;
  return reject(key, entry, RejectCode.INVALID_PAIR, `only ${Ports.SERVER_HTTP} (the HTTP channel) is allowed after '=', not '${rhs}'; ${hint}`);
}

export function reservedPort(key: string, entry: string, port: number): RejectedEntry {
  const why =
    port === Ports.KUBELET_HTTPS || port === Ports.KUBELET_HTTP
      ? `port ${port} is a built-in kubelet port and is always tunnelled; remove it from ${key}.`
      : `port ${port} is used by edge-tunnel itself and cannot be a node port; remove it from ${key}.`;
  return reject(key, entry, RejectCode.RESERVED_PORT, why);
}

export function conflict(key: string, entry: string, port: number, first: Channel): RejectedEntry {
  return reject(
    key,
    entry,
    RejectCode.CONFLICT,
    `port ${port} is already declared for the ${first.toUpperCase()} channel by an earlier key ` +
      `(order: ${CONFIG_KEYS.slice(0, 3).join(', ')}); a port uses one channel, remove one declaration.`,
  );
}

/** Where an entry was first declared, for DUPLICATE_ENTRY. */
export interface FirstDeclaration {
  readonly key: string;
  readonly entry: string;
}

export function duplicateEntry(key: string, entry: string, port: number, first: FirstDeclaration): RejectedEntry {
  const where = first.key === key ? `earlier in ${key} as '${first.entry}'` : `by ${first.key} as '${first.entry}'`;
  return reject(
    key,
    entry,
    RejectCode.DUPLICATE_ENTRY,
    `port ${port} is already declared ${where} (first occurrence); the port applies once, remove the repeat.`,
  );
}

/**
 * `position` is 1-based among the `count` comma-separated entries; `before`/`after` are the nearest
 * non-empty entries (the reason quotes them, not the whole value, so it stays short for huge values).
 */
export function emptyEntry(key: string, position: number, count: number, before: string | undefined, after: string | undefined): RejectedEntry {
  const where = position === count ? 'a trailing comma' : position === 1 ? 'a leading comma' : 'two commas with nothing between them';
  const near =
    before !== undefined && after !== undefined
      ? `between '${before}' and '${after}'`
      : before !== undefined
        ? `after '${before}'`
        : after !== undefined
          ? `before '${after}'`
          : 'and no entry has a value';
  return reject(key, '', RejectCode.EMPTY_ENTRY, `entry ${position} of ${count} is empty (${where}, ${near}); remove the extra comma.`);
}

export function unknownKey(key: string, value: string): RejectedEntry {
  const near = nearestKey(key);
  const hint = near === undefined ? '' : ` Did you mean '${near}'?`;
  return reject(key, value, RejectCode.UNKNOWN_KEY, `'${key}' is not a known key (known: ${CONFIG_KEYS.join(', ')}).${hint}`);
}

function nearestKey(key: string): ConfigKey | undefined {
  let best: ConfigKey | undefined;
  let bestDistance = 4;
  for (const known of CONFIG_KEYS) {
    const d = editDistance(key.trim().toLowerCase(), known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}
