// Kubernetes Events (core/v1) so that operators see problems with `kubectl describe` / `get events`.
// Repeats of the same (object, type, reason, message) patch the existing Event's count and
// lastTimestamp instead of creating a new one, like client-go's event correlator.
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Event, KubeConfig } from '@kubernetes/client-node';
import { describeApiError, isNotFound } from './errors.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

/** The object an Event is about. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  /** Absent for cluster-scoped objects (their Events go to `default`). */
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  /** `source.component`; default `edge-tunnel-server`. */
  component?: string;
  /** `source.host` (e.g. the pod's node name). */
  host?: string;
  logger?: Logger;
  /** Distinct events remembered for aggregation; default 4096 (oldest forgotten first). */
  cacheSize?: number;
}

export const DEFAULT_EVENT_COMPONENT = 'edge-tunnel-server';

interface Seen {
  namespace: string;
  name: string;
  count: number;
}

export class EventRecorder {
  readonly #core: CoreV1Api;
  readonly #component: string;
  readonly #host: string | undefined;
  readonly #log: Logger;
  readonly #cacheSize: number;
  readonly #seen = new Map<string, Seen>();
  /** Per-key queue, so that concurrent repeats aggregate instead of racing to create. */
  readonly #pending = new Map<string, Promise<string | undefined>>();
  #sequence = 0;

  constructor(kc: KubeConfig, opts: EventRecorderOptions = {}) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#component = opts.component ?? DEFAULT_EVENT_COMPONENT;
    this.#host = opts.host;
    this.#log = opts.logger ?? silentLogger;
    this.#cacheSize = opts.cacheSize ?? 4096;
  }

  /** Records an Event; never throws (failures are logged). Resolves to the Event's name, if written. */
  record(ref: ObjectRef, type: EventType, reason: string, message: string): Promise<string | undefined> {
    const key = JSON.stringify([ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? '', type, reason, message]);
    const previous = this.#pending.get(key) ?? Promise.resolve(undefined);
    const next = previous.then(() => this.#record(key, ref, type, reason, message));
    this.#pending.set(key, next);
    void next.then(() => {
      if (this.#pending.get(key) === next) this.#pending.delete(key);
    });
    return next;
  }

  async #record(key: string, ref: ObjectRef, type: EventType, reason: string, message: string): Promise<string | undefined> {
    const seen = this.#seen.get(key);
    try {
      if (seen && (await this.#bump(seen))) return seen.name;
      const created = await this.#create(ref, type, reason, message);
      this.#remember(key, created);
      return created.name;
    } catch (err) {
      this.#log.warn({ kind: ref.kind, name: ref.name, reason, err: describeApiError(err) }, 'event not recorded');
      return undefined;
    }
  }

  /** Patches count + lastTimestamp; false when the Event is gone (expired) and must be recreated. */
  async #bump(seen: Seen): Promise<boolean> {
    const body = { count: seen.count + 1, lastTimestamp: kubeTime(new Date()) };
    try {
      await this.#core.patchNamespacedEvent({ namespace: seen.namespace, name: seen.name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      seen.count++;
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async #create(ref: ObjectRef, type: EventType, reason: string, message: string): Promise<Seen> {
    const now = new Date();
    const namespace = ref.namespace ?? 'default';
    const name = `${ref.name}.${this.#uniqueSuffix(now)}`;
    const event: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: { ...ref, namespace: ref.namespace },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.#component, ...(this.#host ? { host: this.#host } : {}) },
      reportingComponent: this.#component,
      reportingInstance: this.#host ?? '',
    };
    await this.#core.createNamespacedEvent({ namespace, body: event });
    return { namespace, name, count: 1 };
  }

  /** Like client-go: the time in hex nanoseconds, plus a sequence so that one millisecond can hold many. */
  #uniqueSuffix(now: Date): string {
    this.#sequence = (this.#sequence + 1) % 1_000_000;
    return (BigInt(now.getTime()) * 1_000_000n + BigInt(this.#sequence)).toString(16);
  }

  #remember(key: string, seen: Seen): void {
    this.#seen.delete(key);
    this.#seen.set(key, seen);
    while (this.#seen.size > this.#cacheSize) this.#seen.delete(this.#seen.keys().next().value!);
  }
}

/** metav1.Time: RFC 3339 with second precision. */
export function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
