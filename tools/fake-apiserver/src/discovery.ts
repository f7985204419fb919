import { RESOURCE_VERBS, RESOURCES, apiGroups, type ResourceDef } from './resources.js';

/** The version reported by GET /version (kubectl 1.32 warns beyond one minor of skew). */
export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-fake',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
} as const;

/** GET /api */
export function coreVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

/** GET /apis */
export function groupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...apiGroups().keys()].map(group) };
}

/** GET /apis/{group}, or undefined for an unknown group. */
export function group(name: string): object | undefined {
  const versions = apiGroups().get(name);
  if (!versions) return undefined;
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: list, preferredVersion: list[0] };
}

/** GET /api/v1 or /apis/{group}/{version}, or undefined when nothing is served there. */
export function resourceList(groupName: string, version: string): object | undefined {
  const defs = RESOURCES.filter((r) => r.group === groupName && r.version === version);
  if (defs.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupName ? `${groupName}/${version}` : version,
    resources: defs.flatMap((def) => [resource(def), ...def.subresources.map((s) => subresource(def, s))]),
  };
}

function resource(def: ResourceDef): object {
  return {
    name: def.name,
    singularName: def.singularName,
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: [...RESOURCE_VERBS],
    ...(def.shortNames.length ? { shortNames: [...def.shortNames] } : {}),
    ...(def.categories.length ? { categories: [...def.categories] } : {}),
    storageVersionHash: '',
  };
}

/** Verbs per subresource, as kube-apiserver advertises them. */
function subresourceVerbs(name: string): string[] {
  if (name === 'status') return ['get', 'patch', 'update'];
  if (name === 'log') return ['get'];
  if (name === 'proxy') return ['create', 'delete', 'get', 'patch', 'update'];
  return ['create', 'get'];
}

function subresource(def: ResourceDef, name: string): object {
  const kind = name === 'status' || name === 'log' ? def.kind : `${def.kind}${OPTIONS_KIND[name] ?? ''}Options`;
  return { name: `${def.name}/${name}`, singularName: '', namespaced: def.namespaced, kind, verbs: subresourceVerbs(name) };
}

/** The middle of the `*Options` kind of connect subresources: `PodExecOptions`. */
const OPTIONS_KIND: Record<string, string> = { exec: 'Exec', attach: 'Attach', portforward: 'PortForward', proxy: 'Proxy' };
