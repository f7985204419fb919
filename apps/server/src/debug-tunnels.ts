// /debug/tunnels, bounded: a page of nodes by name (`?limit=`, default --debug-tunnels-limit; `?after=`
// the last name of the previous page, as `next` gives it), or only the nodes `?node=` names
// (repeatable or comma-separated), optionally only `?connected=true|false`. At 10 000 nodes the
// whole table was 3.4 MB per request; a page is its share of that plus three counts.
import type { AgentRegistry, TunnelInfo } from './agents/registry.js';
import { tunnelInfo } from './agents/registry.js';

export const DEFAULT_DEBUG_TUNNELS_LIMIT = 100;
/** The largest ?limit= a request may ask for. */
export const MAX_DEBUG_TUNNELS_LIMIT = 1_000;

export interface TunnelsPage {
  /** nodes known / with a session, whole table (before ?node= and ?connected=) */
  total: number;
  connected: number;
  /** sessions of the whole table by transport (tls: the agent port, websocket: --agent-ws-addr) */
  transports: { tls: number; websocket: number };
  /** nodes that matched the filters (all pages together) */
  matched: number;
  limit: number;
  nodes: TunnelInfo[];
  /** pass as ?after= for the next page; absent on the last */
  next?: string;
  /** ?node= names that are not in the table */
  unknown?: string[];
}

/** A query /debug/tunnels cannot answer: the 400 body's sentence. */
export class TunnelsQueryError extends Error {}

const QUERY_KEYS = new Set(['node', 'after', 'limit', 'connected']);

export function tunnelsPage(registry: AgentRegistry, query: URLSearchParams, defaultLimit = DEFAULT_DEBUG_TUNNELS_LIMIT): TunnelsPage {
  for (const key of query.keys()) {
    if (!QUERY_KEYS.has(key))
      throw new TunnelsQueryError(`unknown parameter ${JSON.stringify(key.slice(0, 40))}; /debug/tunnels takes node, after, limit, connected`);
  }
  const limit = limitOf(query.get('limit'), defaultLimit);
  const connected = connectedOf(query.get('connected'));
  const after = query.get('after')?.toLowerCase() ?? '';
  const names = query
    .getAll('node')
    .flatMap((v) => v.split(','))
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  const all = registry.table.nodes();
  const wanted = names.length > 0 ? new Set(names) : undefined;
  const matching = all.filter((n) => (wanted === undefined || wanted.has(n.name)) && (connected === undefined || (n.session !== undefined) === connected));
  const from = after === '' ? 0 : firstAfter(matching, after);
  const page = matching.slice(from, from + limit);
  const rest = from + page.length < matching.length;
  const unknown = wanted === undefined ? [] : [...wanted].filter((n) => registry.table.get(n) === undefined);
  const transports = { tls: 0, websocket: 0 };
  for (const n of all) if (n.session !== undefined) transports[n.session.transport ?? 'tls'] += 1;
  return {
    total: all.length,
    connected: transports.tls + transports.websocket,
    transports,
    matched: matching.length,
    limit,
    nodes: page.map(tunnelInfo),
    ...(rest ? { next: page.at(-1)!.name } : {}),
    ...(unknown.length > 0 ? { unknown } : {}),
  };
}

function limitOf(raw: string | null, fallback: number): number {
  if (raw === null) return Math.min(fallback, MAX_DEBUG_TUNNELS_LIMIT);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_DEBUG_TUNNELS_LIMIT)
    throw new TunnelsQueryError(`limit must be a whole number from 1 to ${MAX_DEBUG_TUNNELS_LIMIT}, got ${JSON.stringify(raw.slice(0, 40))}`);
  return n;
}

function connectedOf(raw: string | null): boolean | undefined {
  if (raw === null) return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new TunnelsQueryError(`connected must be true or false, got ${JSON.stringify(raw.slice(0, 40))}`);
}

/** Index of the first node whose name sorts after `after` (binary search: the table is sorted by name). */
function firstAfter(nodes: readonly { name: string }[], after: string): number {
  let lo = 0;
  let hi = nodes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (nodes[mid]!.name <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
