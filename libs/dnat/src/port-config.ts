// Parse the port ConfigMap `kube-system/edge-tunnel-server-cfg` into a PortConfig. Each bad entry is
// rejected on its own with a reason; the good entries still apply.
import { BUILT_IN_PORTS, CONFIG_KEYS, Channel, ConfigKey, Ports, TUNNEL_PORTS } from './constants.js';
import { conflict, duplicateEntry, emptyEntry, invalidPairShape, invalidPairTarget, invalidPort, reservedPort, unknownKey } from './reject.js';
import type { FirstDeclaration, RejectedEntry } from './reject.js';

/**
 * The configured node ports (built-in 10250/10255 are not listed; see `channelOf`). Immutable: the
 * object is frozen and the sets must not be changed. Invariants: `httpPorts` and `httpsPorts` are
 * disjoint, `localhostPorts` is a subset of their union, no set holds a reserved port, and every set
 * iterates in ascending order.
 */
export interface PortConfig {
  /** ports through the HTTP channel (:10264), excluding the built-in 10255 */
  readonly httpPorts: ReadonlySet<number>;
  /** ports through the HTTPS channel (:10263), excluding the built-in 10250 */
  readonly httpsPorts: ReadonlySet<number>;
  /** ports the agent dials on 127.0.0.1 instead of the node IP */
  readonly localhostPorts: ReadonlySet<number>;
}

/** The result of `parsePortConfig`: the config built from the good entries, and the rejected ones. */
export interface ParsedPortConfig {
  config: PortConfig;
  rejected: RejectedEntry[];
}

interface Builder {
  readonly http: Set<number>;
  readonly https: Set<number>;
  readonly localhost: Set<number>;
  /** first declaration of each HTTP/HTTPS port, and of each localhost port, for DUPLICATE_ENTRY */
  readonly first: Map<number, FirstDeclaration>;
  readonly firstLocalhost: Map<number, FirstDeclaration>;
  readonly rejected: RejectedEntry[];
}

const KNOWN_KEYS: ReadonlySet<string> = new Set<string>(CONFIG_KEYS);
const PORT_TEXT = /^[0-9]{1,5}$/;

/**
 * Parse the ConfigMap data. Keys apply in the order dnat-ports-pair, http-proxy-ports,
 * https-proxy-ports, localhost-proxy-ports; a port declared for both channels keeps the first
 * declaration. A localhost port also declared for HTTP uses the HTTP channel, otherwise HTTPS.
 * Rejected entries come in key order, then unknown keys sorted by name.
 */
export function parsePortConfig(data: Readonly<Record<string, string | undefined>>): ParsedPortConfig {
  const b: Builder = {
    http: new Set(),
    https: new Set(),
    localhost: new Set(),
    first: new Map(),
    firstLocalhost: new Map(),
    rejected: [],
  };
  for (const key of CONFIG_KEYS) {
    const entries = splitEntries(valueOf(data, key));
    let before: string | undefined;
    entries.forEach((entry, i) => {
      if (entry !== '') return void applyEntry(b, key, (before = entry));
      const after = entries.slice(i + 1, i + 64).find((e) => e !== ''); // bounded look-ahead
      b.rejected.push(emptyEntry(key, i + 1, entries.length, before, after));
    });
  }
  for (const port of b.localhost) if (!b.http.has(port)) b.https.add(port);
  for (const key of Object.keys(data).sort()) {
    if (!KNOWN_KEYS.has(key)) b.rejected.push(unknownKey(key, valueOf(data, key)));
  }
  return { config: makePortConfig(b.http, b.https, b.localhost), rejected: b.rejected };
}

/** Build a frozen PortConfig with sorted sets (no validation: callers pass checked ports). */
export function makePortConfig(http: Iterable<number>, https: Iterable<number>, localhost: Iterable<number>): PortConfig {
  const sorted = (ports: Iterable<number>): ReadonlySet<number> => new Set([...ports].sort((a, c) => a - c));
  return Object.freeze({ httpPorts: sorted(http), httpsPorts: sorted(https), localhostPorts: sorted(localhost) });
}

/** The value of `key` as text; tolerates numbers and other values a YAML parser may produce. */
function valueOf(data: Readonly<Record<string, unknown>>, key: string): string {
  if (!Object.hasOwn(data, key)) return '';
  const value = data[key];
  return value === undefined || value === null ? '' : String(value);
}

/**
 * Comma-separated entries, trimmed. A blank value has no entries (how an operator clears a key);
 * otherwise blank entries (`9100,,9101`, a trailing comma) are kept as '' so they can be reported.
 */
function splitEntries(value: string): string[] {
  if (value.trim() === '') return [];
  return value.split(',').map((entry) => entry.trim());
}

function applyEntry(b: Builder, key: ConfigKey, entry: string): void {
  const port = key === ConfigKey.DNAT_PORTS_PAIR ? parsePair(key, entry) : parsePort(key, entry, entry);
  if (typeof port !== 'number') return void b.rejected.push(port);
  if (BUILT_IN_PORTS.has(port) || TUNNEL_PORTS.has(port)) {
    return void b.rejected.push(reservedPort(key, entry, port));
  }
  if (key === ConfigKey.LOCALHOST_PROXY_PORTS) {
    const first = b.firstLocalhost.get(port);
    if (first !== undefined) return void b.rejected.push(duplicateEntry(key, entry, port, first));
    b.firstLocalhost.set(port, { key, entry });
    return void b.localhost.add(port);
  }
  const channel = key === ConfigKey.HTTPS_PROXY_PORTS ? Channel.HTTPS : Channel.HTTP;
  const [own, other] = channel === Channel.HTTP ? [b.http, b.https] : [b.https, b.http];
  if (other.has(port)) {
    const first = channel === Channel.HTTP ? Channel.HTTPS : Channel.HTTP;
    return void b.rejected.push(conflict(key, entry, port, first));
  }
  const first = b.first.get(port);
  if (first !== undefined) return void b.rejected.push(duplicateEntry(key, entry, port, first));
  b.first.set(port, { key, entry });
  own.add(port);
}

function parsePort(key: string, entry: string, text: string): number | RejectedEntry {
  const port = PORT_TEXT.test(text) ? Number(text) : NaN;
  return port >= 1 && port <= 65535 ? port : invalidPort(key, entry, text);
}

/** `port=10264` → port; anything else is rejected. */
function parsePair(key: string, entry: string): number | RejectedEntry {
  const parts = entry.split('=');
  if (parts.length !== 2) return invalidPairShape(key, entry);
  const [lhs, rhs] = parts.map((part) => part.trim()) as [string, string];
  if (lhs === '' || rhs === '') return invalidPairShape(key, entry);
  const port = parsePort(key, entry, lhs);
  if (typeof port !== 'number') return port;
  if (!PORT_TEXT.test(rhs) || Number(rhs) !== Ports.SERVER_HTTP) return invalidPairTarget(key, entry, rhs);
  return port;
}
