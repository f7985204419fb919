import { DEPLOY_RESOURCES } from './resources-deploy.js';

/** The resources the fake server serves: one row per (group, version, plural). */
export interface ResourceDef {
  /** Plural name in URLs and in the store: `nodes`, `leases`. */
  readonly name: string;
  readonly singularName: string;
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  /** Subresources advertised in discovery (`status` is served; the others answer 404). */
  readonly subresources: readonly string[];
  readonly categories: readonly string[];
}

/** Verbs advertised for every resource (all are served). */
export const RESOURCE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

/** Namespaces that exist when the server starts. */
export const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

function core(name: string, kind: string, namespaced: boolean, shortNames: string[], subresources: string[] = []): ResourceDef {
  return {
    name,
    singularName: kind.toLowerCase(),
    kind,
    group: '',
    version: 'v1',
    namespaced,
    shortNames,
    subresources,
    // `kubectl get all` lists the resources in the `all` category.
    categories: name === 'pods' || name === 'services' ? ['all'] : [],
  };
}

export const RESOURCES: readonly ResourceDef[] = [
  core('namespaces', 'Namespace', false, ['ns'], ['status']),
  core('nodes', 'Node', false, ['no'], ['status', 'proxy']),
  core('pods', 'Pod', true, ['po'], ['status', 'log', 'exec', 'attach', 'portforward', 'proxy']),
  core('configmaps', 'ConfigMap', true, ['cm']),
  core('secrets', 'Secret', true, []),
  core('events', 'Event', true, ['ev']),
  core('services', 'Service', true, ['svc'], ['status', 'proxy']),
  core('endpoints', 'Endpoints', true, ['ep']),
  {
    name: 'leases',
    singularName: 'lease',
    kind: 'Lease',
    group: 'coordination.k8s.io',
    version: 'v1',
    namespaced: true,
    shortNames: [],
    subresources: [],
    categories: [],
  },
  {
    name: 'endpointslices',
    singularName: 'endpointslice',
    kind: 'EndpointSlice',
    group: 'discovery.k8s.io',
    version: 'v1',
    namespaced: true,
    shortNames: [],
    subresources: [],
    categories: [],
  },
  ...DEPLOY_RESOURCES,
];

/** `v1` for the core group, `group/version` otherwise. */
export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

/** The resource served at (group, version, plural), if any. */
export function findResource(group: string, version: string, name: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.name === name);
}

/** The resource stored under a plural name (the store's key). */
export function resourceByName(name: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.name === name);
}

/** Groups other than core, with their versions, for /apis. */
export function apiGroups(): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (!r.group) continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return groups;
}
