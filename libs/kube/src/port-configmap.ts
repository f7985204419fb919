// The port configuration from the ConfigMap kube-system/edge-tunnel-server-cfg, applied live. Each bad
// entry is rejected on its own (the good ones apply, as in standalone mode) and shown where an operator
// looks: a warn log line and a Warning Event `InvalidPortConfig` on the ConfigMap, once per
// (resourceVersion, key, entry); `current().rejected` feeds /debug/config. A deleted ConfigMap means
// built-in ports only. Same shape as the server's file source (PortConfigSource).
import { EventEmitter } from 'node:events';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { EMPTY_PORT_CONFIG, parsePortConfig } from '@edge-tunnel/dnat';
import type { PortConfig, RejectedEntry } from '@edge-tunnel/dnat';
import type { BackoffOptions } from './backoff.js';
import { describeApiError } from './errors.js';
import type { EventRecorder } from './events.js';
import { ResilientInformer } from './informer.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

/** Reason of the Warning Event recorded for each rejected entry. */
export const INVALID_PORT_CONFIG_REASON = 'InvalidPortConfig';

export interface PortConfigMapOptions {
  /** Default `kube-system`. */
  namespace?: string;
  /** Default `edge-tunnel-server-cfg`. */
  name?: string;
  /** Where rejected entries become Events; without it only the log and current() show them. */
  events?: EventRecorder;
  logger?: Logger;
  backoff?: BackoffOptions;
}

/** The active port config and the entries that were rejected (the server's PortConfigState). */
export interface PortConfigState {
  config: PortConfig;
  rejected: readonly RejectedEntry[];
  /** `configmap kube-system/edge-tunnel-server-cfg` */
  source: string;
  loadedAt: Date;
  /** resourceVersion of the ConfigMap applied; undefined when it does not exist. */
  resourceVersion?: string;
  /** the current watch problem, if any (the config above is the last one seen) */
  lastError?: string;
}

export interface PortConfigMapWatcher {
  on(event: 'change', listener: (state: PortConfigState) => void): this;
  off(event: 'change', listener: (state: PortConfigState) => void): this;
}

export class PortConfigMapWatcher extends EventEmitter {
  readonly #namespace: string;
  readonly #name: string;
  readonly #events: EventRecorder | undefined;
  readonly #log: Logger;
  readonly #informer: ResilientInformer<V1ConfigMap>;
  readonly #reported = new Set<string>();
  #state: PortConfigState;

  constructor(kc: KubeConfig, opts: PortConfigMapOptions = {}) {
    super();
    this.#namespace = opts.namespace ?? 'kube-system';
    this.#name = opts.name ?? 'edge-tunnel-server-cfg';
    this.#events = opts.events;
    this.#log = opts.logger ?? silentLogger;
    this.#state = { config: EMPTY_PORT_CONFIG, rejected: [], source: this.source, loadedAt: new Date() };
    const core = kc.makeApiClient(CoreV1Api);
    const fieldSelector = `metadata.name=${this.#name}`;
    const namespace = this.#namespace;
    this.#informer = new ResilientInformer<V1ConfigMap>(kc, {
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`,
      fieldSelector,
      list: () => core.listNamespacedConfigMap({ namespace, fieldSelector }),
      name: this.source,
      logger: this.#log,
      backoff: opts.backoff,
    });
    this.#informer.on('add', (cm) => this.#apply(cm));
    this.#informer.on('update', (cm) => this.#apply(cm));
    this.#informer.on('delete', () => this.#removed());
    this.#informer.on('synced', (items) => this.#synced(items));
    this.#informer.on('error', (err) => this.#failed(err));
  }

  get source(): string {
    return `configmap ${this.#namespace}/${this.#name}`;
  }

  start(): this {
    this.#informer.start();
    return this;
  }

  current(): PortConfigState {
    return this.#state;
  }

  whenSynced(): Promise<void> {
    return this.#informer.whenSynced();
  }

  get restarts(): number {
    return this.#informer.restarts;
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  /** PortConfigSource.close(): stop() without waiting. */
  close(): void {
    void this.stop();
  }

  #apply(cm: V1ConfigMap): void {
    const resourceVersion = cm.metadata?.resourceVersion;
    if (resourceVersion !== undefined && resourceVersion === this.#state.resourceVersion) return;
    const { config, rejected } = parsePortConfig(cm.data ?? {});
    this.#set({ config, rejected, source: this.source, loadedAt: new Date(), resourceVersion });
    this.#log.info({ configMap: this.source, resourceVersion, rejected: rejected.length }, 'port config applied');
    this.#report(cm, rejected);
  }

  #removed(): void {
    this.#set({ config: EMPTY_PORT_CONFIG, rejected: [], source: this.source, loadedAt: new Date() });
    this.#log.info({ configMap: this.source }, 'port config map deleted: built-in ports only');
  }

  #synced(items: V1ConfigMap[]): void {
    if (this.#state.lastError !== undefined) this.#set({ ...this.#state, lastError: undefined });
    if (items.length === 0 && this.#state.resourceVersion === undefined) {
      this.#log.info({ configMap: this.source }, 'port config map absent: built-in ports only');
    }
  }

  #failed(err: unknown): void {
    const lastError = `cannot watch ${this.source}: ${describeApiError(err)}`;
    if (lastError !== this.#state.lastError) this.#set({ ...this.#state, lastError });
  }

  #set(state: PortConfigState): void {
    if (state.lastError === undefined) delete state.lastError;
    this.#state = state;
    this.emit('change', state);
  }

  /** Log + Event per rejected entry, once per (resourceVersion, key, entry, code). */
  #report(cm: V1ConfigMap, rejected: readonly RejectedEntry[]): void {
    const rv = cm.metadata?.resourceVersion ?? '';
    for (const key of this.#reported) if (!key.startsWith(`${rv}\u0000`)) this.#reported.delete(key);
    for (const r of rejected) {
      const key = [rv, r.key, r.entry, r.code].join('\u0000');
      if (this.#reported.has(key)) continue;
      this.#reported.add(key);
      this.#log.warn({ configMap: this.source, key: r.key, entry: r.entry, code: r.code, reason: r.reason }, 'port config entry rejected');
      void this.#events?.record(
        { apiVersion: 'v1', kind: 'ConfigMap', namespace: this.#namespace, name: this.#name, uid: cm.metadata?.uid, resourceVersion: rv || undefined },
        'Warning',
        INVALID_PORT_CONFIG_REASON,
        r.reason,
      );
    }
  }
}

/** Starts watching the port ConfigMap; see PortConfigMapWatcher. */
export function watchPortConfigMap(kc: KubeConfig, opts: PortConfigMapOptions = {}): PortConfigMapWatcher {
  return new PortConfigMapWatcher(kc, opts).start();
}
