// Replica membership on per-replica Leases: each server replica holds Lease
// `edge-tunnel-server-<id>` (label app.kubernetes.io/component=edge-tunnel-replica, holderIdentity =
// id, annotation edge-tunnel.io/advertise-addr), renews it every few seconds, and lists the others.
// A Lease is live while its record changed within its duration — judged by our own clock once seen,
// by its renewTime at first sight — so clocks need not agree. stop() deletes our Lease.
import { EventEmitter } from 'node:events';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { cancellableSleep } from './backoff.js';
import { describeApiError, isConflict, isNotFound } from './errors.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

/** Label and annotation of replica Leases. */
export const ReplicaLease = {
  /** label key; value COMPONENT */
  LABEL: 'app.kubernetes.io/component',
  /** label value that marks a replica Lease */
  COMPONENT: 'edge-tunnel-replica',
  /** annotation: host:port agents dial to reach the replica */
  ADDR_ANNOTATION: 'edge-tunnel.io/advertise-addr',
  /** Lease name prefix; the replica id follows */
  PREFIX: 'edge-tunnel-server-',
} as const;

export interface MemberReplica {
  id: string;
  addr: string;
}

export interface ReplicaMembershipOptions {
  /** this replica: id (the pod name) and its advertised address */
  self: MemberReplica;
  /** default kube-system */
  namespace?: string;
  /** default 15 */
  leaseDurationSeconds?: number;
  /** renew and list period; default 3 000 ms */
  renewIntervalMs?: number;
  logger?: Logger;
}

export interface ReplicaMembership {
  on(event: 'change', listener: (replicas: MemberReplica[]) => void): this;
}

/** Emits 'change' with the live replicas (this one included), sorted by id, whenever the set differs. */
export class ReplicaMembership extends EventEmitter {
  readonly #api: CoordinationV1Api;
  readonly #self: MemberReplica;
  readonly #ns: string;
  readonly #durationS: number;
  readonly #periodMs: number;
  readonly #log: Logger;
  readonly #seen = new Map<string, { record: string; at: number }>();
  #replicas: MemberReplica[] = [];
  #stopped = true;
  #loop: Promise<void> | undefined;
  #sleep: { cancel: () => void } | undefined;
  #synced = false;

  constructor(kc: KubeConfig, opts: ReplicaMembershipOptions) {
    super();
    this.#api = kc.makeApiClient(CoordinationV1Api);
    this.#self = opts.self;
    this.#ns = opts.namespace ?? 'kube-system';
    this.#durationS = opts.leaseDurationSeconds ?? 15;
    this.#periodMs = opts.renewIntervalMs ?? 3_000;
    this.#log = opts.logger ?? silentLogger;
    this.#replicas = [opts.self];
  }

  get leaseName(): string {
    return `${ReplicaLease.PREFIX}${this.#self.id}`;
  }

  /** live replicas, this one included */
  get replicas(): MemberReplica[] {
    return this.#replicas;
  }

  /** true once one renew and list pass succeeded */
  get synced(): boolean {
    return this.#synced;
  }

  start(): this {
    if (!this.#stopped) return this;
    this.#stopped = false;
    this.#loop = this.#run();
    return this;
  }

  /** Stops renewing and deletes our Lease so that the others drop us at their next pass. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#sleep?.cancel();
    await this.#loop;
    try {
      await this.#api.deleteNamespacedLease({ namespace: this.#ns, name: this.leaseName });
    } catch (err) {
      if (!isNotFound(err)) this.#log.warn({ lease: this.leaseName, err: describeApiError(err) }, 'replica lease delete failed: it expires');
    }
  }

  /** One renew and list pass (exposed for tests). */
  async sync(): Promise<void> {
    await this.#renew();
    const list = await this.#api.listNamespacedLease({ namespace: this.#ns, labelSelector: `${ReplicaLease.LABEL}=${ReplicaLease.COMPONENT}` });
    this.#apply(list.items);
    this.#synced = true;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.sync();
      } catch (err) {
        this.#log.warn({ lease: this.leaseName, err: describeApiError(err) }, 'replica membership pass failed');
      }
      if (this.#stopped) break;
      const sleep = cancellableSleep(this.#periodMs);
      this.#sleep = sleep;
      await sleep.promise;
      this.#sleep = undefined;
    }
  }

  #body(resourceVersion?: string): V1Lease {
    return {
      metadata: {
        name: this.leaseName, namespace: this.#ns, ...(resourceVersion !== undefined ? { resourceVersion } : {}),
        labels: { [ReplicaLease.LABEL]: ReplicaLease.COMPONENT },
        annotations: { [ReplicaLease.ADDR_ANNOTATION]: this.#self.addr },
      },
      spec: { holderIdentity: this.#self.id, leaseDurationSeconds: this.#durationS, renewTime: new V1MicroTime() },
    };
  }

  async #renew(): Promise<void> {
    let current: V1Lease | undefined;
    try {
      current = await this.#api.readNamespacedLease({ namespace: this.#ns, name: this.leaseName });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      if (current === undefined) await this.#api.createNamespacedLease({ namespace: this.#ns, body: this.#body() });
      else await this.#api.replaceNamespacedLease({ namespace: this.#ns, name: this.leaseName, body: this.#body(current.metadata?.resourceVersion) });
    } catch (err) {
      if (!isConflict(err)) throw err; // a conflict: retried at the next pass
    }
  }

  #apply(leases: V1Lease[]): void {
    const now = Date.now();
    const live: MemberReplica[] = [];
    const names = new Set<string>();
    for (const lease of leases) {
      const name = lease.metadata?.name ?? '';
      const id = lease.spec?.holderIdentity ?? '';
      const addr = lease.metadata?.annotations?.[ReplicaLease.ADDR_ANNOTATION] ?? '';
      if (id === '' || addr === '') continue;
      names.add(name);
      const renewed = lease.spec?.renewTime ? new Date(String(lease.spec.renewTime)).getTime() : NaN;
      const record = `${id}|${String(lease.spec?.renewTime ?? '')}|${addr}`;
      const seen = this.#seen.get(name);
      if (seen?.record !== record) {
        // first sight: trust renewTime (a Lease left by a killed replica is not live); later: our clock
        const at = seen === undefined && Number.isFinite(renewed) ? Math.min(now, renewed) : now;
        this.#seen.set(name, { record, at });
      }
      const durationMs = (lease.spec?.leaseDurationSeconds ?? this.#durationS) * 1000;
      if (id === this.#self.id || now < this.#seen.get(name)!.at + durationMs) live.push({ id, addr });
    }
    for (const name of [...this.#seen.keys()]) if (!names.has(name)) this.#seen.delete(name);
    if (!live.some((r) => r.id === this.#self.id)) live.push(this.#self);
    live.sort((a, b) => a.id.localeCompare(b.id));
    const same = live.length === this.#replicas.length && live.every((r, i) => r.id === this.#replicas[i]!.id && r.addr === this.#replicas[i]!.addr);
    if (same) return;
    this.#replicas = live;
    this.#log.info({ replicas: live.map((r) => `${r.id}@${r.addr}`) }, 'replica set changed');
    try {
      this.emit('change', live);
    } catch (err) {
      this.#log.error({ err }, 'replica listener threw');
    }
  }
}
