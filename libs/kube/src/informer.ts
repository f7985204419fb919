// A resilient list+watch informer on client-node's Watch. client-node's own informer stops for good
// after most errors; this one relists after 410 Gone, re-watches from the last resourceVersion after a
// drop, backs off (capped, jittered) after failures, never throws to its caller, and stop() ends it
// without a restart and without an 'error' event.
import { EventEmitter } from 'node:events';
import { Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { Backoff, cancellableSleep } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { describeApiError, httpStatusOf } from './errors.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export interface InformerOptions<T> {
  /** Collection path to watch, e.g. `/api/v1/nodes` or `/api/v1/namespaces/kube-system/configmaps`. */
  path: string;
  /** Lists the same collection with the same selectors (a typed client call). */
  list: () => Promise<ListResult<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Name in log lines, e.g. `nodes edge=true`; default the path. */
  name?: string;
  logger?: Logger;
  /** Restart backoff; defaults 500 ms doubling to 30 s, ±20 % jitter. */
  backoff?: BackoffOptions;
  /** Server-side watch timeout; default a random 300–599 s so replicas do not reconnect together. */
  watchTimeoutSeconds?: number;
}

/** A watch that ends cleanly sooner than this without delivering anything counts as a failure. */
const MIN_HEALTHY_WATCH_MS = 1000;

interface Outcome {
  ok: boolean;
  err?: unknown;
}

export interface ResilientInformer<T extends KubernetesObject> {
  on(event: 'add' | 'delete', listener: (obj: T) => void): this;
  on(event: 'update', listener: (obj: T, old: T) => void): this;
  on(event: 'synced', listener: (items: T[]) => void): this;
  on(event: 'error', listener: (err: unknown) => void): this;
}

/**
 * Emits 'add' (obj), 'update' (obj, old), 'delete' (obj), 'synced' (items, after every successful
 * list) and 'error' (err, only if someone listens). Objects from lists are client-node models, from
 * watches plain JSON.
 */
export class ResilientInformer<T extends KubernetesObject> extends EventEmitter {
  readonly #opts: InformerOptions<T>;
  readonly #log: Logger;
  readonly #watch: Watch;
  readonly #backoff: Backoff;
  readonly #name: string;
  #cache = new Map<string, T>();
  #rv = '';
  #restarts = 0;
  #synced = false;
  #stopped = true;
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #sleep: { cancel: () => void } | undefined;
  #lastError: string | undefined;

  constructor(kc: KubeConfig, opts: InformerOptions<T>) {
    super();
    this.#opts = opts;
    this.#log = opts.logger ?? silentLogger;
    this.#watch = new Watch(kc);
    this.#backoff = new Backoff(opts.backoff);
    this.#name = opts.name ?? opts.path;
  }

  /** Starts listing and watching (idempotent). */
  start(): this {
    if (!this.#stopped) return this;
    this.#stopped = false;
    this.#loop = this.#run();
    return this;
  }

  /** Ends the watch; no restart follows and no 'error' is emitted. Resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    this.#sleep?.cancel();
    await this.#loop;
  }

  /** A snapshot of the cached objects. */
  list(): T[] {
    return [...this.#cache.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#cache.get(cacheKey(namespace, name));
  }

  /** Times the list/watch was re-established after it ended (errors, drops, 410, timeouts). */
  get restarts(): number {
    return this.#restarts;
  }

  /** True once the first list has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The last failure, as a sentence (for status pages). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  get resourceVersion(): string {
    return this.#rv;
  }

  /** Resolves after the first successful list (or at once if that already happened). */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.once('synced', () => resolve()));
  }

  async #run(): Promise<void> {
    let first = true;
    while (!this.#stopped) {
      if (!first) this.#restarts++;
      first = false;
      const outcome = await this.#runOnce();
      if (this.#stopped) break;
      if (outcome.ok) {
        this.#backoff.reset();
        this.#log.debug({ informer: this.#name }, 'watch ended, re-watching');
        continue;
      }
      const delayMs = this.#backoff.next();
      this.#lastError = describeApiError(outcome.err);
      this.#log.warn({ informer: this.#name, reason: this.#lastError, delayMs, relist: this.#rv === '' }, 'watch failed, restarting');
      if (this.listenerCount('error') > 0) this.#safeEmit('error', outcome.err);
      const sleep = cancellableSleep(delayMs);
      this.#sleep = sleep;
      await sleep.promise;
      this.#sleep = undefined;
    }
  }

  async #runOnce(): Promise<Outcome> {
    if (this.#rv === '') {
      try {
        await this.#relist();
      } catch (err) {
        return { ok: false, err };
      }
      if (this.#stopped) return { ok: true };
    }
    return this.#watchOnce();
  }

  async #relist(): Promise<void> {
    const result = await this.#opts.list();
    if (this.#stopped) return;
    const previous = this.#cache;
    const next = new Map<string, T>();
    for (const item of result.items ?? []) next.set(keyOf(item), item);
    this.#cache = next;
    this.#rv = result.metadata?.resourceVersion ?? '';
    for (const [key, old] of previous) if (!next.has(key)) this.#safeEmit('delete', old);
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (!old) this.#safeEmit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#safeEmit('update', obj, old);
    }
    this.#synced = true;
    this.#log.debug({ informer: this.#name, items: next.size, resourceVersion: this.#rv }, 'listed');
    this.#safeEmit('synced', this.list());
  }

  #watchOnce(): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const started = Date.now();
      let events = 0;
      let failure: unknown;
      let settled = false;
      const onEvent = (type: string, obj: unknown): void => {
        if (type === 'ERROR') {
          failure = statusError(obj);
          if (httpStatusOf(failure) === 410) this.#rv = '';
          return;
        }
        events++;
        this.#apply(type, obj as T);
      };
      const done = (err: unknown): void => {
        if (settled) return;
        settled = true;
        this.#abort = undefined;
        if (this.#stopped) return resolve({ ok: true });
        if (httpStatusOf(err) === 410) this.#rv = '';
        if (failure !== undefined) return resolve({ ok: false, err: failure });
        // client-node aborts a watch after 30 s without data: a routine reconnect.
        if ((err as Error | null)?.name === 'TimeoutError') return resolve({ ok: true });
        if (err) return resolve({ ok: false, err });
        if (events === 0 && Date.now() - started < MIN_HEALTHY_WATCH_MS) {
          return resolve({ ok: false, err: new Error('the watch ended as soon as it started') });
        }
        resolve({ ok: true });
      };
      this.#watch.watch(this.#opts.path, this.#query(), onEvent, done).then((controller) => {
        if (settled) return;
        if (this.#stopped) controller.abort();
        else this.#abort = controller;
      }, done);
    });
  }

  #query(): Record<string, string | number | boolean | undefined> {
    return {
      resourceVersion: this.#rv || undefined,
      allowWatchBookmarks: true,
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      timeoutSeconds: this.#opts.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
    };
  }

  #apply(type: string, obj: T): void {
    const rv = obj?.metadata?.resourceVersion;
    if (type === 'ADDED' || type === 'MODIFIED') {
      const key = keyOf(obj);
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (!old) this.#safeEmit('add', obj);
      else if (old.metadata?.resourceVersion !== rv) this.#safeEmit('update', obj, old);
    } else if (type === 'DELETED') {
      const key = keyOf(obj);
      if (this.#cache.delete(key)) this.#safeEmit('delete', obj);
    }
    if (rv) this.#rv = rv;
  }

  /** Listener exceptions are logged, never allowed to break the watch loop. */
  #safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      this.#log.error({ informer: this.#name, event, err }, 'informer listener threw');
    }
  }
}

function cacheKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ''}/${name ?? ''}`;
}

function keyOf(obj: KubernetesObject): string {
  return cacheKey(obj.metadata?.namespace, obj.metadata?.name);
}

/** A watch ERROR event's Status as an Error carrying `code` (410 for Expired). */
function statusError(obj: unknown): Error {
  const status = (obj ?? {}) as { code?: number; message?: string; reason?: string };
  const err = new Error(status.message ?? `watch error ${status.reason ?? ''}`.trim()) as Error & { code?: number };
  if (typeof status.code === 'number') err.code = status.code;
  return err;
}
