import { randomBytes } from 'node:crypto';
import { StatusError, alreadyExists, badRequest, conflict } from './errors.js';
import { parseJson, readBody, readObjectBody, sendJson } from './http.js';
import { applyPatch } from './patch.js';
import { currentObject, type RequestContext } from './read.js';
import { apiVersionOf } from './resources.js';
import { requestMatcher } from './selectors.js';
import type { KubeObject } from './store.js';

/** POST on a collection: 201 with the stored object, 409 AlreadyExists. */
export async function handleCreate(ctx: RequestContext): Promise<void> {
  const { target, store } = ctx;
  const obj = asObject(await readObjectBody(ctx.req));
  checkNamespace(ctx, obj);
  const meta = obj.metadata;
  if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
  if (!meta.name) throw new StatusError('Invalid', `${target.resource.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
  if (target.namespace !== undefined) meta.namespace = target.namespace;
  if (store.get(target.resource.name, meta.namespace, meta.name)) throw alreadyExists(target.resource.name, meta.name, target.resource.group);
  for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'deletionTimestamp']) delete meta[field];
  if (target.resource.name === 'services') allocateClusterIp(ctx, obj);
  sendJson(ctx.res, 201, store.put(target.resource.name, obj));
}

/**
 * A created Service without `spec.clusterIP` gets one, as kube-apiserver's allocator does: the next
 * free address of 10.96.0.0/16 from 10.96.0.10 (`None` (headless) and ExternalName get none).
 */
function allocateClusterIp(ctx: RequestContext, obj: KubeObject): void {
  const spec = ((obj as { spec?: Record<string, unknown> }).spec ??= {});
  if ((spec.clusterIP !== undefined && spec.clusterIP !== '') || spec.type === 'ExternalName') return;
  const used = new Set(ctx.store.list('services').map((s) => (s as { spec?: { clusterIP?: string } }).spec?.clusterIP));
  for (let n = 10; n < 65_536; n++) {
    const ip = `10.96.${n >> 8}.${n & 255}`;
    if (used.has(ip)) continue;
    spec.clusterIP = ip;
    spec.clusterIPs = [ip];
    return;
  }
  throw new StatusError('InternalError', 'Internal error occurred: failed to allocate a serviceIP: range is full');
}

/** PUT on an object (or its status): 409 Conflict when metadata.resourceVersion is stale. */
export async function handleUpdate(ctx: RequestContext): Promise<void> {
  const { target, store } = ctx;
  const obj = asObject(await readObjectBody(ctx.req));
  if (obj.metadata.name !== undefined && obj.metadata.name !== target.name) {
    throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${target.name})`);
  }
  checkNamespace(ctx, obj);
  const current = currentObject(ctx);
  checkVersion(ctx, current, obj.metadata.resourceVersion);
  obj.metadata = { ...obj.metadata, name: target.name, namespace: current.metadata.namespace };
  sendJson(ctx.res, 200, store.put(target.resource.name, obj));
}

/** PATCH on an object (or its status), as merge, strategic merge (treated as merge) or JSON patch. */
export async function handlePatch(ctx: RequestContext): Promise<void> {
  const { target, store } = ctx;
  const patch = parseJson(await readBody(ctx.req));
  const current = currentObject(ctx);
  const patched = asObject(applyPatch(current, patch, ctx.req.headers['content-type'] ?? ''));
  checkVersion(ctx, current, patched.metadata.resourceVersion);
  patched.metadata = { ...patched.metadata, name: current.metadata.name, namespace: current.metadata.namespace };
  sendJson(ctx.res, 200, store.put(target.resource.name, patched));
}

/** DELETE on an object: 200 with its last state; DeleteOptions preconditions are honoured. */
export async function handleDelete(ctx: RequestContext): Promise<void> {
  const { target, store } = ctx;
  const text = await readBody(ctx.req);
  const options = (text.trim() ? parseJson(text) : {}) as { preconditions?: { resourceVersion?: string; uid?: string } };
  const current = currentObject(ctx);
  const pre = options.preconditions ?? {};
  checkVersion(ctx, current, pre.resourceVersion);
  if (pre.uid !== undefined && pre.uid !== current.metadata.uid) {
    throw new StatusError('Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
  }
  sendJson(ctx.res, 200, store.delete(target.resource.name, target.namespace, target.name!));
}

/** DELETE on a collection: removes what the selectors match, answers the removed objects as a list. */
export async function handleDeleteCollection(ctx: RequestContext): Promise<void> {
  const { target, store, query } = ctx;
  await readBody(ctx.req);
  const def = target.resource;
  const victims = store.list(def.name, target.namespace).filter(requestMatcher(query, target.namespace));
  const items = victims.map((o) => store.delete(def.name, o.metadata.namespace, o.metadata.name!)!);
  sendJson(ctx.res, 200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: { resourceVersion: store.resourceVersion() }, items });
}

function asObject(value: unknown): KubeObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest('the request body must be a JSON object');
  const obj = value as KubeObject;
  if (obj.metadata === undefined) obj.metadata = {};
  if (obj.metadata === null || typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) throw badRequest('metadata must be an object');
  return obj;
}

function checkNamespace(ctx: RequestContext, obj: KubeObject): void {
  const ns = obj.metadata.namespace;
  if (ctx.target.namespace !== undefined && ns !== undefined && ns !== '' && ns !== ctx.target.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
}

function checkVersion(ctx: RequestContext, current: KubeObject, expected: string | undefined): void {
  if (expected !== undefined && expected !== '' && expected !== current.metadata.resourceVersion) {
    throw conflict(ctx.target.resource.name, ctx.target.name!, ctx.target.resource.group);
  }
}

/** generateName suffix: five lower-case alphanumerics, like the apiserver's. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}
