import { randomUUID } from 'node:crypto';
import { ErrorCode, FakeApiServerError } from './errors.js';
import { apiVersionOf, resourceByName, type ResourceDef } from './resources.js';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, kept in the history for watch resumption. `previous` is the state before it. */
export interface StoreEvent {
  readonly type: StoreEventType;
  readonly resource: string;
  readonly resourceVersion: number;
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
}

export type StoreListener = (event: StoreEvent) => void;

/** Default number of events kept for watch resumption. */
export const DEFAULT_HISTORY_LIMIT = 1000;

/**
 * In-memory objects keyed by resource / namespace / name, with one global, monotonically
 * increasing resourceVersion and a bounded event history. Every mutation notifies listeners
 * synchronously, so a watch that subscribes and replays in one tick misses nothing.
 */
export class ObjectStore {
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();
  private revision = 0;
  /** Watches may resume from any resourceVersion >= this one. */
  private oldestResumable = 0;

  constructor(private readonly historyLimit = DEFAULT_HISTORY_LIMIT) {}

  /** The newest resourceVersion, as the decimal string the API uses. */
  resourceVersion(): string {
    return String(this.revision);
  }

  /** A copy of one object, or undefined. `namespace` is ignored for cluster-scoped resources. */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const def = this.def(resource);
    const obj = this.bucket(def.name).get(key(def, namespace, name));
    return obj ? structuredClone(obj) : undefined;
  }

  /** Copies of the objects of a resource, in one namespace or all, sorted by namespace and name. */
  list(resource: string, namespace?: string): KubeObject[] {
    const def = this.def(resource);
    const items = [...this.bucket(def.name).entries()]
      .filter(([, obj]) => !def.namespaced || !namespace || obj.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return items.map(([, obj]) => structuredClone(obj));
  }

  /**
   * Create or replace an object (no preconditions: the HTTP layer checks those). Fills kind,
   * apiVersion, uid, creationTimestamp, generation and a new resourceVersion; emits ADDED or MODIFIED.
   */
  put(resource: string, input: KubeObject): KubeObject {
    const def = this.def(resource);
    const obj = normalize(def, structuredClone(input));
    const k = key(def, obj.metadata.namespace, obj.metadata.name!);
    const bucket = this.bucket(def.name);
    const previous = bucket.get(k);
    const meta = obj.metadata;
    meta.uid = previous?.metadata.uid ?? meta.uid ?? randomUUID();
    meta.creationTimestamp = previous?.metadata.creationTimestamp ?? meta.creationTimestamp ?? timestamp();
    meta.generation = nextGeneration(previous, obj);
    meta.resourceVersion = String(++this.revision);
    bucket.set(k, obj);
    this.emit({ type: previous ? 'MODIFIED' : 'ADDED', resource: def.name, resourceVersion: this.revision, object: obj, previous });
    return structuredClone(obj);
  }

  /** Remove an object; returns its last state (carrying the deletion's resourceVersion) or undefined. */
  delete(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const def = this.def(resource);
    const k = key(def, namespace, name);
    const bucket = this.bucket(def.name);
    const previous = bucket.get(k);
    if (!previous) return undefined;
    bucket.delete(k);
    const obj = structuredClone(previous);
    obj.metadata.resourceVersion = String(++this.revision);
    this.emit({ type: 'DELETED', resource: def.name, resourceVersion: this.revision, object: obj, previous });
    return structuredClone(obj);
  }

  /** Call `listener` for every later change; returns the unsubscribe function. */
  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `resourceVersion`, or undefined when the history no longer reaches back that far. */
  eventsSince(resourceVersion: number): StoreEvent[] | undefined {
    if (resourceVersion < this.oldestResumable) return undefined;
    return this.history.filter((e) => e.resourceVersion > resourceVersion);
  }

  /** The oldest resourceVersion a watch may still resume from. */
  oldestResumableVersion(): number {
    return this.oldestResumable;
  }

  /** Forget the history: a watch from any older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.oldestResumable = this.revision;
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      this.oldestResumable = this.history.shift()!.resourceVersion;
    }
    for (const listener of [...this.listeners]) listener(event);
  }

  private def(resource: string): ResourceDef {
    const def = resourceByName(resource);
    if (!def) throw new FakeApiServerError(ErrorCode.UnknownResource, `the fake API server does not serve "${resource}"`);
    return def;
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let bucket = this.objects.get(resource);
    if (!bucket) this.objects.set(resource, (bucket = new Map()));
    return bucket;
  }
}

function key(def: ResourceDef, namespace: string | undefined, name: string): string {
  return def.namespaced ? `${namespace ?? 'default'}/${name}` : name;
}

/** kube-apiserver timestamps have second precision. */
function timestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function normalize(def: ResourceDef, obj: KubeObject): KubeObject {
  if (!obj || typeof obj !== 'object' || typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') {
    throw new FakeApiServerError(ErrorCode.InvalidObject, `a ${def.kind} needs metadata.name`);
  }
  obj.apiVersion = apiVersionOf(def);
  obj.kind = def.kind;
  if (def.namespaced) obj.metadata.namespace = obj.metadata.namespace || 'default';
  else delete obj.metadata.namespace;
  if (def.name === 'secrets') foldStringData(obj);
  if (def.name === 'secrets' && !obj.type) obj.type = 'Opaque'; // the apiserver's default
  if (def.name === 'namespaces') obj.status = { phase: 'Active', ...(obj.status as object | undefined) };
  return obj;
}

/** Secrets: `stringData` is write-only and merged into base64 `data`, as the apiserver does. */
function foldStringData(obj: KubeObject): void {
  const stringData = obj.stringData as Record<string, string> | undefined;
  if (!stringData) return;
  const data = { ...(obj.data as Record<string, string> | undefined) };
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v)).toString('base64');
  obj.data = data;
  delete obj.stringData;
}

/** generation starts at 1 and grows when anything but metadata and status changes. */
function nextGeneration(previous: KubeObject | undefined, obj: KubeObject): number {
  if (!previous) return 1;
  const base = previous.metadata.generation ?? 1;
  return JSON.stringify(body(previous)) === JSON.stringify(body(obj)) ? base : base + 1;
}

function body(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}
