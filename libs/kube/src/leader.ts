// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: acquire when the Lease is
// absent, released or expired (expiry judged by when *we* saw its record change, so clock skew does
// not matter), renew while leading, write with the read resourceVersion (409 = someone else won).
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { cancellableSleep } from './backoff.js';
import { KubeError, KubeErrorCode, describeApiError, isConflict, isNotFound } from './errors.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

export interface LeaderElectorOptions {
  /** This replica's identity (the pod name); must be unique among replicas. */
  identity: string;
  /** Default `kube-system`. */
  namespace?: string;
  /** Lease name; default `edge-tunnel-server`. */
  name?: string;
  /** Default 15. */
  leaseDurationSeconds?: number;
  /** Renew period while leading; default 5 000 ms. */
  renewIntervalMs?: number;
  /** Retry period while not leading; default 2 000 ms. */
  retryIntervalMs?: number;
  /** Give up leading when no renew succeeded for this long; default 2/3 of the lease duration. */
  renewDeadlineMs?: number;
  logger?: Logger;
}

type Attempt = 'leading' | 'held' | 'conflict' | 'error';

export interface LeaderElector {
  on(event: 'leading' | 'stopped-leading', listener: () => void): this;
  on(event: 'new-leader', listener: (identity: string) => void): this;
}

/** Emits 'leading', 'stopped-leading' and 'new-leader' (identity, whenever the observed holder changes). */
export class LeaderElector extends EventEmitter {
  readonly #api: CoordinationV1Api;
  readonly #id: string;
  readonly #ns: string;
  readonly #name: string;
  readonly #durationS: number;
  readonly #renewMs: number;
  readonly #retryMs: number;
  readonly #deadlineMs: number;
  readonly #log: Logger;
  #leading = false;
  #stopped = true;
  #loop: Promise<void> | undefined;
  #sleep: { cancel: () => void } | undefined;
  #observedRecord = '';
  #observedAt = 0;
  #lastRenew = 0;
  #holder: string | undefined;

  constructor(kc: KubeConfig, opts: LeaderElectorOptions) {
    super();
    if (!opts.identity) throw new KubeError(KubeErrorCode.INVALID_OPTIONS, 'leader election needs a non-empty identity (the pod name)');
    this.#api = kc.makeApiClient(CoordinationV1Api);
    this.#id = opts.identity;
    this.#ns = opts.namespace ?? 'kube-system';
    this.#name = opts.name ?? 'edge-tunnel-server';
    this.#durationS = opts.leaseDurationSeconds ?? 15;
    this.#renewMs = opts.renewIntervalMs ?? 5_000;
    this.#retryMs = opts.retryIntervalMs ?? 2_000;
    this.#deadlineMs = opts.renewDeadlineMs ?? (this.#durationS * 1000 * 2) / 3;
    this.#log = opts.logger ?? silentLogger;
    if (!(this.#durationS >= 1) || !(this.#renewMs > 0) || !(this.#retryMs > 0) || this.#renewMs >= this.#durationS * 1000) {
      throw new KubeError(KubeErrorCode.INVALID_OPTIONS, 'leader election needs leaseDurationSeconds ≥ 1 and 0 < renewIntervalMs < leaseDuration');
    }
  }

  get identity(): string {
    return this.#id;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder seen in the Lease at the last attempt ('' when released). */
  get holder(): string | undefined {
    return this.#holder;
  }

  start(): this {
    if (!this.#stopped) return this;
    this.#stopped = false;
    this.#loop = this.#run();
    return this;
  }

  /**
   * Stops campaigning. With `release` (default) a leader clears holderIdentity so that a successor
   * takes over at its next retry; without it the Lease simply expires.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    this.#sleep?.cancel();
    await this.#loop;
    if (!this.#leading) return;
    if (opts.release ?? true) await this.#release();
    this.#setLeading(false);
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let attempt = await this.#attempt();
      if (attempt === 'conflict' && !this.#stopped) attempt = await this.#attempt();
      if (this.#stopped) break;
      if (attempt === 'leading') {
        this.#lastRenew = performance.now();
        this.#setLeading(true);
      } else if (this.#leading && (attempt !== 'error' || performance.now() - this.#lastRenew > this.#deadlineMs)) {
        this.#log.warn({ lease: this.#lease(), holder: this.#holder }, 'lost leadership');
        this.#setLeading(false);
      }
      const sleep = cancellableSleep(this.#leading ? this.#renewMs : this.#retryMs);
      this.#sleep = sleep;
      await sleep.promise;
      this.#sleep = undefined;
    }
  }

  async #attempt(): Promise<Attempt> {
    let lease: V1Lease;
    try {
      lease = await this.#api.readNamespacedLease({ namespace: this.#ns, name: this.#name });
    } catch (err) {
      if (isNotFound(err)) return this.#create();
      return this.#failed('read', err);
    }
    const spec: V1LeaseSpec = lease.spec ?? {};
    this.#observe(spec);
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? this.#durationS) * 1000;
    if (holder !== '' && holder !== this.#id && performance.now() < this.#observedAt + durationMs) return 'held';
    const now = new V1MicroTime();
    const takeover = holder !== this.#id;
    lease.spec = {
      ...spec,
      holderIdentity: this.#id,
      leaseDurationSeconds: this.#durationS,
      renewTime: now,
      ...(takeover ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      await this.#api.replaceNamespacedLease({ namespace: this.#ns, name: this.#name, body: lease });
    } catch (err) {
      if (isConflict(err)) return 'conflict';
      return this.#failed(takeover ? 'acquire' : 'renew', err);
    }
    if (takeover) this.#log.info({ lease: this.#lease(), previous: holder || undefined }, 'lease acquired');
    this.#holderSeen(this.#id);
    return 'leading';
  }

  async #create(): Promise<Attempt> {
    const now = new V1MicroTime();
    const body: V1Lease = {
      metadata: { name: this.#name, namespace: this.#ns },
      spec: { holderIdentity: this.#id, leaseDurationSeconds: this.#durationS, acquireTime: now, renewTime: now, leaseTransitions: 0 },
    };
    try {
      await this.#api.createNamespacedLease({ namespace: this.#ns, body });
    } catch (err) {
      if (isConflict(err)) return 'conflict';
      return this.#failed('create', err);
    }
    this.#log.info({ lease: this.#lease() }, 'lease created');
    this.#holderSeen(this.#id);
    return 'leading';
  }

  async #release(): Promise<void> {
    try {
      const lease = await this.#api.readNamespacedLease({ namespace: this.#ns, name: this.#name });
      if (lease.spec?.holderIdentity !== this.#id) return;
      const now = new V1MicroTime();
      lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
      await this.#api.replaceNamespacedLease({ namespace: this.#ns, name: this.#name, body: lease });
      this.#log.info({ lease: this.#lease() }, 'lease released');
    } catch (err) {
      this.#log.warn({ lease: this.#lease(), err: describeApiError(err) }, 'lease release failed: successor waits for expiry');
    }
  }

  /** Remember when the Lease record last changed, by our own clock. */
  #observe(spec: V1LeaseSpec): void {
    const record = JSON.stringify([spec.holderIdentity ?? '', String(spec.renewTime ?? ''), spec.leaseDurationSeconds ?? 0]);
    if (record !== this.#observedRecord) {
      this.#observedRecord = record;
      this.#observedAt = performance.now();
    }
    this.#holderSeen(spec.holderIdentity ?? '');
  }

  #holderSeen(holder: string): void {
    if (holder === this.#holder) return;
    this.#holder = holder;
    if (holder !== '') this.#emit('new-leader', holder);
  }

  #failed(what: string, err: unknown): Attempt {
    this.#log.warn({ lease: this.#lease(), op: what, err: describeApiError(err) }, 'lease update failed');
    return 'error';
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#log.info({ lease: this.#lease(), identity: this.#id }, leading ? 'started leading' : 'stopped leading');
    this.#emit(leading ? 'leading' : 'stopped-leading');
  }

  /** A throwing listener must not end the election loop. */
  #emit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      this.#log.error({ lease: this.#lease(), event, err }, 'leader listener threw');
    }
  }

  #lease(): string {
    return `${this.#ns}/${this.#name}`;
  }
}
