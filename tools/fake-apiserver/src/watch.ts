import type { ServerResponse } from 'node:http';
import { StatusError, badRequest } from './errors.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import type { Matcher } from './selectors.js';
import type { KubeObject, ObjectStore, StoreEvent } from './store.js';

/** Event types on the watch wire. */
export const WatchEventType = {
  /** An object appeared (or started matching the selectors). */
  Added: 'ADDED',
  /** An object changed and still matches. */
  Modified: 'MODIFIED',
  /** An object went away (or stopped matching the selectors). */
  Deleted: 'DELETED',
  /** Progress notice: only metadata.resourceVersion is meaningful. */
  Bookmark: 'BOOKMARK',
  /** A Status object; the watch ends after it. */
  Error: 'ERROR',
} as const;
export type WatchEventType = (typeof WatchEventType)[keyof typeof WatchEventType];

/** Annotation on the bookmark that ends the initial events of `sendInitialEvents=true`. */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

export interface WatchRequest {
  resource: ResourceDef;
  matches: Matcher;
  /** The `resourceVersion` query parameter: '' or '0' means "current state, then follow". */
  resourceVersion: string;
  bookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds: number;
  /** How an object goes on the wire (default: as is); `first` is true for the first object sent. */
  present?: (obj: KubeObject, first: boolean) => unknown;
}

/** The open watch responses of one server, so that they can be dropped or closed together. */
export class WatchHub {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly store: ObjectStore,
    private readonly bookmarkIntervalMs: number,
  ) {}

  /** Serve one watch on `res` until the client leaves, the timeout passes or the hub closes. */
  serve(res: ServerResponse, request: WatchRequest): void {
    const since = parseVersion(request.resourceVersion);
    const replay = since === undefined ? undefined : this.store.eventsSince(since);
    startStream(res);
    if (since !== undefined && replay === undefined) {
      res.end(line(WatchEventType.Error, expired(since, this.store.oldestResumableVersion()).toStatus()));
      return;
    }
    const send = (type: WatchEventType, object: unknown): void => void res.write(line(type, object));
    let first = true;
    const sendObject = (type: WatchEventType, obj: KubeObject): void => {
      send(type, request.present ? request.present(obj, first) : obj);
      first = false;
    };
    const deliver = (event: StoreEvent): void => {
      if (event.resource !== request.resource.name) return;
      const translated = translate(event, request.matches);
      if (translated) sendObject(translated.type, translated.object);
    };
    if (replay) replay.forEach(deliver);
    else
      this.store
        .list(request.resource.name)
        .filter(request.matches)
        .forEach((obj) => sendObject(WatchEventType.Added, obj));
    const bookmark = (annotations?: Record<string, string>): void =>
      send(WatchEventType.Bookmark, bookmarkObject(request.resource, this.store.resourceVersion(), annotations));
    if (request.sendInitialEvents && request.bookmarks) bookmark({ [INITIAL_EVENTS_END]: 'true' });

    const unsubscribe = this.store.subscribe(deliver);
    const timers: NodeJS.Timeout[] = [];
    if (request.bookmarks) timers.push(setInterval(() => bookmark(), this.bookmarkIntervalMs));
    if (request.timeoutSeconds > 0) timers.push(setTimeout(() => res.end(), request.timeoutSeconds * 1000));
    this.open.add(res);
    res.once('close', () => {
      unsubscribe();
      timers.forEach((t) => clearInterval(t));
      this.open.delete(res);
    });
  }

  /** Number of watches being served. */
  get size(): number {
    return this.open.size;
  }

  /** End every watch abruptly (the socket is destroyed mid-stream), like an apiserver restart. */
  dropAll(): void {
    for (const res of [...this.open]) (res.socket ?? res).destroy();
  }

  /** End every watch cleanly (the chunked body is terminated). */
  endAll(): void {
    for (const res of [...this.open]) res.end();
  }
}

/** Headers go out at once: client-node's Watch waits for them before reading events. */
function startStream(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
}

function parseVersion(resourceVersion: string): number | undefined {
  if (resourceVersion === '' || resourceVersion === '0') return undefined;
  if (!/^\d+$/.test(resourceVersion)) throw badRequest(`invalid resource version: "${resourceVersion}"`);
  return Number(resourceVersion);
}

function expired(requested: number, oldest: number): StatusError {
  return new StatusError('Expired', `too old resource version: ${requested} (${oldest})`);
}

function line(type: WatchEventType, object: unknown): string {
  return `${JSON.stringify({ type, object })}\n`;
}

/**
 * What a watcher with `matches` sees of a store event, as kube-apiserver's cacher does it:
 * an object that starts matching is ADDED, one that stops matching is DELETED (its previous
 * state with the event's resourceVersion).
 */
export function translate(event: StoreEvent, matches: Matcher): { type: WatchEventType; object: KubeObject } | undefined {
  const before = event.previous !== undefined && matches(event.previous);
  if (event.type === 'DELETED') return before ? { type: WatchEventType.Deleted, object: event.object } : undefined;
  const after = matches(event.object);
  if (after) return { type: before ? WatchEventType.Modified : WatchEventType.Added, object: event.object };
  if (!before) return undefined;
  const gone = structuredClone(event.previous!);
  gone.metadata.resourceVersion = String(event.resourceVersion);
  return { type: WatchEventType.Deleted, object: gone };
}

function bookmarkObject(def: ResourceDef, resourceVersion: string, annotations?: Record<string, string>): object {
  return { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { resourceVersion, ...(annotations ? { annotations } : {}) } };
}
