// The kubelet's own request → authorization attributes mapping (kubelet pkg/kubelet/server/auth.go):
// resource `nodes`, name = the node, subresource by path (/stats* stats, /metrics* metrics, /logs* log,
// /spec* spec, everything else proxy), verb by method. Used for bearer-token callers on :10263, whose
// SubjectAccessReview must ask exactly what the kubelet itself would ask.
import { posix } from 'node:path';

/** The kubelet port: its paths get the fine mapping; any other HTTPS port is `nodes/proxy`. */
export const KUBELET_PORT = 10250;

export const KUBELET_SUBRESOURCES = { stats: '/stats', metrics: '/metrics', log: '/logs', spec: '/spec' } as const;
export type KubeletSubresource = keyof typeof KUBELET_SUBRESOURCES | 'proxy';

export const KUBELET_VERBS = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as const;

/** What a SubjectAccessReview asks for one request. */
export interface NodeAttributes {
  verb: string;
  resource: 'nodes';
  subresource: KubeletSubresource;
  name: string;
}

/**
 * The path as the kubelet routes it: without its query, percent-decoded, dot segments resolved
 * (`/metrics/../exec` and `/metrics/%2e%2e/exec` are `/exec`). Undecodable paths: undefined.
 */
export function cleanPath(url: string): string | undefined {
  const q = url.search(/[?#]/);
  const raw = q < 0 ? url : url.slice(0, q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0')) return undefined;
  return posix.normalize(decoded).replace(/\/+$/, '') || '/';
}

/** `/stats/summary` → stats, `/metrics/cadvisor` → metrics, `/logs/x` → log, `/spec/` → spec, else proxy. */
export function subresourceOf(url: string, port = KUBELET_PORT): KubeletSubresource {
  if (port !== KUBELET_PORT) return 'proxy';
  const path = cleanPath(url);
  if (path === undefined) return 'proxy';
  for (const [sub, prefix] of Object.entries(KUBELET_SUBRESOURCES) as Array<[KubeletSubresource, string]>) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return sub;
  }
  return 'proxy';
}

/** GET/HEAD get, POST create, PUT update, PATCH patch, DELETE delete; others their lower-cased name (no RBAC rule names them). */
export function verbOf(method: string | undefined): string {
  const m = (method ?? 'GET').toUpperCase();
  return (KUBELET_VERBS as Readonly<Record<string, string | undefined>>)[m] ?? m.toLowerCase();
}

export function nodeAttributes(method: string | undefined, url: string, port: number, nodeName: string): NodeAttributes {
  return { verb: verbOf(method), resource: 'nodes', subresource: subresourceOf(url, port), name: nodeName };
}

/** `get nodes/metrics edge-1`: the permission as RBAC names it. */
export function formatAttributes(a: NodeAttributes): string {
  return `${a.verb} ${a.resource}/${a.subresource} ${JSON.stringify(a.name)}`;
}
