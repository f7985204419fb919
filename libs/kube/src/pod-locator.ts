// (namespace, pod) → node name, by GET pod, with a TTL cache, negative caching and request coalescing.
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { apiError, isNotFound } from './errors.js';
import { parseKubeletPath } from './kubelet-path.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

export interface PodLocatorOptions {
  /** How long a found pod's node is trusted; default 30 000 ms. */
  ttlMs?: number;
  /** How long "no such pod" / "not scheduled yet" is remembered; default 5 000 ms. */
  negativeTtlMs?: number;
  /** Cached entries at most (oldest dropped first); default 10 000. */
  maxEntries?: number;
  logger?: Logger;
  /** Clock, for tests; default Date.now. */
  now?: () => number;
}

interface Entry {
  nodeName: string | undefined;
  expires: number;
}

export class PodLocator {
  readonly #core: CoreV1Api;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #maxEntries: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<string | undefined>>();

  constructor(kc: KubeConfig, opts: PodLocatorOptions = {}) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#ttlMs = opts.ttlMs ?? 30_000;
    this.#negativeTtlMs = opts.negativeTtlMs ?? 5_000;
    this.#maxEntries = opts.maxEntries ?? 10_000;
    this.#log = opts.logger ?? silentLogger;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * The node the pod runs on; undefined when the pod does not exist or is not scheduled.
   * Throws KubeError ERR_KUBE_API when the API cannot answer (nothing is cached then).
   */
  async locate(namespace: string, pod: string): Promise<string | undefined> {
    const key = `${namespace}/${pod}`;
    const hit = this.#cache.get(key);
    if (hit && hit.expires > this.#now()) return hit.nodeName;
    if (hit) this.#cache.delete(key);
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#fetch(namespace, pod).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * The node for a kubelet pod path (`/exec/<ns>/<pod>/<c>`, …); undefined when the path names no pod
   * or the pod has no node. Throws like locate().
   */
  async locatePath(path: string): Promise<string | undefined> {
    const target = parseKubeletPath(path);
    return target ? this.locate(target.namespace, target.pod) : undefined;
  }

  /** Forget one pod (e.g. after a dial to its node failed) or everything. */
  invalidate(namespace?: string, pod?: string): void {
    if (namespace === undefined || pod === undefined) this.#cache.clear();
    else this.#cache.delete(`${namespace}/${pod}`);
  }

  get size(): number {
    return this.#cache.size;
  }

  async #fetch(namespace: string, pod: string): Promise<string | undefined> {
    let nodeName: string | undefined;
    try {
      const obj = await this.#core.readNamespacedPod({ namespace, name: pod });
      nodeName = obj.spec?.nodeName || undefined;
    } catch (err) {
      if (!isNotFound(err)) throw apiError(`read Pod ${namespace}/${pod}`, err);
    }
    const ttl = nodeName === undefined ? this.#negativeTtlMs : this.#ttlMs;
    this.#cache.set(`${namespace}/${pod}`, { nodeName, expires: this.#now() + ttl });
    while (this.#cache.size > this.#maxEntries) this.#cache.delete(this.#cache.keys().next().value!);
    this.#log.debug({ namespace, pod, nodeName }, 'pod located');
    return nodeName;
  }
}
