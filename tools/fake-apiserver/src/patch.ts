import { StatusError, badRequest } from './errors.js';

/** Patch content types (the Content-Type of a PATCH request). */
export const PatchType = {
  /** RFC 7386 JSON merge patch. */
  Merge: 'application/merge-patch+json',
  /** Kubernetes strategic merge patch: applied here as a plain merge patch. */
  StrategicMerge: 'application/strategic-merge-patch+json',
  /** RFC 6902 JSON patch (a list of operations). */
  Json: 'application/json-patch+json',
} as const;
export type PatchType = (typeof PatchType)[keyof typeof PatchType];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Apply a patch body of `contentType` to `target`; returns a new value. */
export function applyPatch(target: unknown, patch: unknown, contentType: string): unknown {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === PatchType.Merge || type === PatchType.StrategicMerge) return mergePatch(target, patch);
  if (type === PatchType.Json) return jsonPatch(target, patch);
  throw new StatusError(
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${Object.values(PatchType).join(', ')}`,
  );
}

/** RFC 7386: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

/** RFC 6902: add, remove, replace, move, copy, test. A failed operation is a 422. */
export function jsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw badRequest('json patch must be an array of operations');
  let doc = structuredClone(target) as Json;
  for (const raw of patch as Operation[]) {
    if (!raw || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw badRequest('json patch operation needs op and path');
    doc = applyOperation(doc, raw);
  }
  return doc;
}

function applyOperation(doc: Json, op: Operation): Json {
  switch (op.op) {
    case 'add':
      return insert(doc, pointer(op.path), structuredClone(op.value) as Json, false);
    case 'replace':
      get(doc, pointer(op.path));
      return insert(doc, pointer(op.path), structuredClone(op.value) as Json, true);
    case 'remove':
      return remove(doc, pointer(op.path));
    case 'move': {
      const from = pointer(op.from ?? '');
      const value = get(doc, from);
      return insert(remove(doc, from), pointer(op.path), value, false);
    }
    case 'copy':
      return insert(doc, pointer(op.path), structuredClone(get(doc, pointer(op.from ?? ''))), false);
    case 'test':
      if (JSON.stringify(get(doc, pointer(op.path))) !== JSON.stringify(op.value)) invalid(`testing value ${op.path} failed`);
      return doc;
    default:
      throw badRequest(`unexpected json patch operation "${op.op}"`);
  }
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid json pointer "${path}"`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function get(doc: Json, path: string[]): Json {
  let cur: Json = doc;
  for (const seg of path) {
    const next: Json | undefined = Array.isArray(cur) ? cur[index(cur, seg, false)] : isObject(cur) ? cur[seg] : undefined;
    if (next === undefined) invalid(`path /${path.join('/')} does not exist`);
    cur = next;
  }
  return cur;
}

function insert(doc: Json, path: string[], value: Json, replace: boolean): Json {
  if (path.length === 0) return value;
  const parent = get(doc, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : index(parent, last, true);
    parent.splice(i, replace ? 1 : 0, value);
  } else if (isObject(parent)) {
    parent[last] = value;
  } else {
    invalid(`cannot add /${path.join('/')}: parent is not a container`);
  }
  return doc;
}

function remove(doc: Json, path: string[]): Json {
  if (path.length === 0) invalid('cannot remove the whole document');
  const parent = get(doc, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(index(parent, last, false), 1);
  else if (isObject(parent) && last in parent) delete parent[last];
  else invalid(`path /${path.join('/')} does not exist`);
  return doc;
}

function index(arr: Json[], seg: string, allowEnd: boolean): number {
  const i = /^(0|[1-9]\d*)$/.test(seg) ? Number(seg) : -1;
  if (i < 0 || i > arr.length || (i === arr.length && !allowEnd)) invalid(`array index ${seg} out of range`);
  return i;
}

function isObject(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function invalid(message: string): never {
  throw new StatusError('Invalid', message);
}
