import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, notFound } from './errors.js';
import { acceptsTable, sendJson } from './http.js';
import { apiVersionOf } from './resources.js';
import type { ResourceTarget } from './routing.js';
import { requestMatcher } from './selectors.js';
import type { KubeObject, ObjectStore } from './store.js';
import { toTable } from './table.js';
import type { WatchHub } from './watch.js';

/** Everything a resource handler needs about one request. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  target: ResourceTarget;
  store: ObjectStore;
  watches: WatchHub;
}

/** GET: watch, list (optionally paged), or one object; as a Table when the client asks for one. */
export function handleGet(ctx: RequestContext): void {
  const { query, target } = ctx;
  const watch = target.watchPrefix || query.get('watch') === 'true' || query.get('watch') === '1';
  if (watch) return serveWatch(ctx);
  if (target.name === undefined) return serveList(ctx);
  sendObjects(ctx, [currentObject(ctx)], false);
}

/** The object a named request points at, or a 404. */
export function currentObject(ctx: RequestContext): KubeObject {
  const { target, store } = ctx;
  const obj = store.get(target.resource.name, target.namespace, target.name!);
  if (!obj) throw notFound(target.resource.name, target.name!, target.resource.group);
  return obj;
}

function serveWatch(ctx: RequestContext): void {
  const { query, target } = ctx;
  const timeout = Number(query.get('timeoutSeconds') ?? 0);
  const tableVersion = acceptsTable(ctx.req);
  ctx.watches.serve(ctx.res, {
    resource: target.resource,
    matches: requestMatcher(query, target.namespace, target.name),
    resourceVersion: query.get('resourceVersion') ?? '',
    bookmarks: query.get('allowWatchBookmarks') === 'true',
    sendInitialEvents: query.get('sendInitialEvents') === 'true',
    timeoutSeconds: Number.isFinite(timeout) ? timeout : 0,
    // kubectl get -w: each event carries a one-row Table; column definitions only in the first.
    present: tableVersion ? (obj, first) => toTable(target.resource, [obj], { resourceVersion: obj.metadata.resourceVersion }, tableVersion, first) : undefined,
  });
}

function serveList(ctx: RequestContext): void {
  const { query, target, store } = ctx;
  const all = store.list(target.resource.name, target.namespace).filter(requestMatcher(query, target.namespace));
  const start = decodeContinue(query.get('continue'));
  const limit = Number(query.get('limit') ?? 0);
  const end = Number.isInteger(limit) && limit > 0 ? Math.min(all.length, start + limit) : all.length;
  sendObjects(ctx, all.slice(start, end), true, end < all.length ? { continue: encodeContinue(end), remainingItemCount: all.length - end } : {});
}

function sendObjects(ctx: RequestContext, items: KubeObject[], asList: boolean, page: object = {}): void {
  const { req, res, target, store } = ctx;
  const def = target.resource;
  const rv = store.resourceVersion();
  const tableVersion = acceptsTable(req);
  if (tableVersion) return sendJson(res, 200, toTable(def, items, { resourceVersion: rv, ...page }, tableVersion));
  if (!asList) return sendJson(res, 200, items[0]);
  sendJson(res, 200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: { resourceVersion: rv, ...page }, items });
}

/** Continue tokens are opaque to clients: here, the offset of the next item. */
function encodeContinue(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

function decodeContinue(token: string | null): number {
  if (!token) return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset: unknown };
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through to the error below
  }
  throw badRequest(`invalid continue token: "${token}"`);
}
