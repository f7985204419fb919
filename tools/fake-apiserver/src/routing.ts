import { findResource, type ResourceDef } from './resources.js';

/** What a request path names. */
export type Route = { kind: 'discovery'; doc: DiscoveryDoc } | { kind: 'resource'; target: ResourceTarget } | { kind: 'unknown' };

export type DiscoveryDoc =
  | { type: 'coreVersions' }
  | { type: 'groups' }
  | { type: 'group'; group: string }
  | { type: 'resources'; group: string; version: string }
  | { type: 'version' }
  | { type: 'health' };

export interface ResourceTarget {
  resource: ResourceDef;
  /** Undefined for cluster-scoped resources and for all-namespaces lists. */
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  /** The legacy `/api/v1/watch/...` form was used. */
  watchPrefix: boolean;
}

/** Map a URL path to discovery, a resource target or unknown. */
export function route(pathname: string): Route {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const [root, a, b] = parts;
  if (root === 'version' && parts.length === 1) return discovery({ type: 'version' });
  if ((root === 'healthz' || root === 'livez' || root === 'readyz') && parts.length === 1) return discovery({ type: 'health' });
  if (root === 'api') {
    if (parts.length === 1) return discovery({ type: 'coreVersions' });
    if (a !== 'v1') return { kind: 'unknown' };
    if (parts.length === 2) return discovery({ type: 'resources', group: '', version: 'v1' });
    return resourceRoute('', 'v1', parts.slice(2));
  }
  if (root === 'apis') {
    if (parts.length === 1) return discovery({ type: 'groups' });
    if (parts.length === 2) return discovery({ type: 'group', group: a! });
    if (parts.length === 3) return discovery({ type: 'resources', group: a!, version: b! });
    return resourceRoute(a!, b!, parts.slice(3));
  }
  return { kind: 'unknown' };
}

function discovery(doc: DiscoveryDoc): Route {
  return { kind: 'discovery', doc };
}

function resourceRoute(group: string, version: string, rest: string[]): Route {
  const watchPrefix = rest[0] === 'watch';
  if (watchPrefix) rest = rest.slice(1);
  const [first, second, third, fourth, fifth] = rest;
  const namespaced = first === 'namespaces' && third !== undefined ? findResource(group, version, third) : undefined;
  if (namespaced?.namespaced && rest.length <= 5) {
    return target(namespaced, second, fourth, fifth, watchPrefix);
  }
  const resource = first === undefined ? undefined : findResource(group, version, first);
  if (!resource || rest.length > 3) return { kind: 'unknown' };
  // `/api/v1/pods` lists pods in all namespaces; `/api/v1/pods/x` means nothing.
  if (resource.namespaced && rest.length > 1) return { kind: 'unknown' };
  return target(resource, undefined, second, third, watchPrefix);
}

function target(resource: ResourceDef, namespace: string | undefined, name: string | undefined, subresource: string | undefined, watchPrefix: boolean): Route {
  return { kind: 'resource', target: { resource, namespace, name, subresource, watchPrefix } };
}
