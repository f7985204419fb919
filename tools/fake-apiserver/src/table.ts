import type { ResourceDef } from './resources.js';
import type { KubeObject } from './store.js';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
  cell: (obj: KubeObject, now: number) => string | number;
}

const nameColumn: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0, cell: (o) => o.metadata.name ?? '' };
const ageColumn: Column = { name: 'Age', type: 'string', format: '', description: 'Age', priority: 0, cell: (o, now) => age(o, now) };

/** Column sets per resource, modelled on kube-apiserver's printers; others get NAME and AGE. */
const COLUMNS: Record<string, Column[]> = {
  pods: [
    nameColumn,
    column('Ready', (o) => podReady(o)),
    column('Status', (o) => String(get(o, 'status', 'reason') ?? get(o, 'status', 'phase') ?? 'Pending')),
    { ...column('Restarts', (o) => restarts(o)), type: 'integer' },
    ageColumn,
  ],
  nodes: [
    nameColumn,
    column('Status', (o) => nodeStatus(o)),
    column('Roles', (o) => nodeRoles(o)),
    ageColumn,
    column('Version', (o) => String(get(o, 'status', 'nodeInfo', 'kubeletVersion') ?? '')),
  ],
  namespaces: [nameColumn, column('Status', (o) => String(get(o, 'status', 'phase') ?? 'Active')), ageColumn],
  configmaps: [
    nameColumn,
    { ...column('Data', (o) => Object.keys((o.data as object) ?? {}).length + Object.keys((o.binaryData as object) ?? {}).length), type: 'integer' },
    ageColumn,
  ],
  secrets: [
    nameColumn,
    column('Type', (o) => String(o.type ?? 'Opaque')),
    { ...column('Data', (o) => Object.keys((o.data as object) ?? {}).length), type: 'integer' },
    ageColumn,
  ],
  leases: [nameColumn, column('Holder', (o) => String(get(o, 'spec', 'holderIdentity') ?? '')), ageColumn],
};

/** A meta.k8s.io Table of `items`, with each row's object as PartialObjectMetadata. */
export function toTable(def: ResourceDef, items: KubeObject[], listMeta: object, tableVersion: string, withColumns = true): object {
  const columns = COLUMNS[def.name] ?? [nameColumn, ageColumn];
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${tableVersion}`,
    metadata: listMeta,
    columnDefinitions: withColumns ? columns.map(({ cell: _cell, ...definition }) => definition) : [],
    rows: items.map((obj) => ({
      cells: columns.map((c) => c.cell(obj, now)),
      object: { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${tableVersion}`, metadata: obj.metadata },
    })),
  };
}

function column(name: string, cell: Column['cell']): Column {
  return { name, type: 'string', format: '', description: name, priority: 0, cell };
}

function get(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const p of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

interface ContainerStatus {
  ready?: boolean;
  restartCount?: number;
}

function podReady(pod: KubeObject): string {
  const total = ((get(pod, 'spec', 'containers') as unknown[]) ?? []).length;
  const ready = ((get(pod, 'status', 'containerStatuses') as ContainerStatus[]) ?? []).filter((s) => s.ready).length;
  return `${ready}/${total}`;
}

function restarts(pod: KubeObject): number {
  return ((get(pod, 'status', 'containerStatuses') as ContainerStatus[]) ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0);
}

function nodeStatus(node: KubeObject): string {
  const conditions = (get(node, 'status', 'conditions') as Array<{ type?: string; status?: string }>) ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const status = ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown';
  return get(node, 'spec', 'unschedulable') ? `${status},SchedulingDisabled` : status;
}

function nodeRoles(node: KubeObject): string {
  const prefix = 'node-role.kubernetes.io/';
  const roles = Object.keys(node.metadata.labels ?? {})
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  return roles.length ? roles.sort().join(',') : '<none>';
}

/** kubectl's short human duration: 45s, 12m, 5h, 3d. */
function age(obj: KubeObject, now: number): string {
  const created = Date.parse(obj.metadata.creationTimestamp ?? '');
  if (Number.isNaN(created)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
