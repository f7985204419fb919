// Replica membership from the EndpointSlices of the server's Service, read only: every endpoint is
// one replica (id = targetRef.name, the pod name; addr = address and the slice's agent port).
// Not-ready endpoints count (a replica turns ready only once agents reach it, so leaving them out
// would deadlock); terminating ones do not (a draining replica must drop out of the agents' dials).
import { EventEmitter } from 'node:events';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1EndpointSlice } from '@kubernetes/client-node';
import type { BackoffOptions } from './backoff.js';
import { ResilientInformer } from './informer.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

/** Where the replicas are found: the label the endpoints controller puts on a Service's slices, and defaults. */
export const ReplicaEndpoints = {
  /** label on every EndpointSlice of a Service; value: the Service name */
  SERVICE_LABEL: 'kubernetes.io/service-name',
  /** the Service agents dial through the load balancer (k8s/base/server-services.yaml) */
  DEFAULT_SERVICE: 'edge-tunnel-server',
  /** the name of that Service's agent port, the one slices carry */
  DEFAULT_PORT_NAME: 'agent',
} as const;

export interface MemberReplica {
  id: string;
  addr: string;
}

export interface ReplicaMembershipOptions {
  /** this replica: id (the pod name) and its advertised address; in the set from the start */
  self: MemberReplica;
  /** default kube-system */
  namespace?: string;
  /** default ReplicaEndpoints.DEFAULT_SERVICE */
  service?: string;
  /** default ReplicaEndpoints.DEFAULT_PORT_NAME */
  portName?: string;
  logger?: Logger;
  /** restart backoff of the watch */
  backoff?: BackoffOptions;
}

export interface ReplicaMembership {
  on(event: 'change', listener: (replicas: MemberReplica[]) => void): this;
}

/** Emits 'change' with the replicas (this one included), sorted by id, whenever the set differs. */
export class ReplicaMembership extends EventEmitter {
  readonly #informer: ResilientInformer<V1EndpointSlice>;
  readonly #self: MemberReplica;
  readonly #portName: string;
  readonly #log: Logger;
  #replicas: MemberReplica[];
  #warned = { slices: '', endpointAddr: '' };

  constructor(kc: KubeConfig, opts: ReplicaMembershipOptions) {
    super();
    const namespace = opts.namespace ?? 'kube-system';
    const labelSelector = `${ReplicaEndpoints.SERVICE_LABEL}=${opts.service ?? ReplicaEndpoints.DEFAULT_SERVICE}`;
    const api = kc.makeApiClient(DiscoveryV1Api);
    this.#self = opts.self;
    this.#portName = opts.portName ?? ReplicaEndpoints.DEFAULT_PORT_NAME;
    this.#log = opts.logger ?? silentLogger;
    this.#replicas = [opts.self];
    this.#informer = new ResilientInformer<V1EndpointSlice>(kc, {
      path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      list: () => api.listNamespacedEndpointSlice({ namespace, labelSelector }),
      labelSelector,
      name: `endpointslices ${labelSelector}`,
      logger: this.#log,
      backoff: opts.backoff,
    });
    const apply = (): void => this.#apply();
    this.#informer.on('add', apply).on('update', apply).on('delete', apply);
  }

  /** the replicas, this one included, sorted by id */
  get replicas(): MemberReplica[] {
    return this.#replicas;
  }

  /** true once the slices were listed */
  get synced(): boolean {
    return this.#informer.synced;
  }

  /** times the list/watch was re-established */
  get restarts(): number {
    return this.#informer.restarts;
  }

  start(): this {
    this.#informer.start();
    return this;
  }

  /** Stops watching; the endpoints controller, not this replica, takes it out of the others' sets. */
  stop(): Promise<void> {
    return this.#informer.stop();
  }

  #apply(): void {
    const { replicas, portless } = replicasOf(this.#informer.list(), this.#portName);
    const seenSelf = replicas.find((r) => r.id === this.#self.id);
    this.#warnOnce(portless, seenSelf);
    const next = [this.#self, ...replicas.filter((r) => r.id !== this.#self.id)].sort((a, b) => a.id.localeCompare(b.id));
    const same = next.length === this.#replicas.length && next.every((r, i) => r.id === this.#replicas[i]!.id && r.addr === this.#replicas[i]!.addr);
    if (same) return;
    this.#replicas = next;
    this.#log.info({ replicas: next.map((r) => `${r.id}@${r.addr}`) }, 'replica set changed');
    try {
      this.emit('change', next);
    } catch (err) {
      this.#log.error({ err }, 'replica listener threw');
    }
  }

  /** Configuration mistakes that hide or split replicas, each logged once per distinct value. */
  #warnOnce(portless: string[], seenSelf: MemberReplica | undefined): void {
    const slices = portless.join();
    if (slices !== this.#warned.slices && slices !== '') {
      this.#log.warn(
        { slices: portless, port: this.#portName },
        'endpoint slices lack the agent port: their replicas are ignored (check the Service port name)',
      );
    }
    const endpointAddr = seenSelf && seenSelf.addr !== this.#self.addr ? seenSelf.addr : '';
    if (endpointAddr !== this.#warned.endpointAddr && endpointAddr !== '') {
      this.#log.warn(
        { advertiseAddr: this.#self.addr, endpointAddr },
        'own endpoint differs from the advertised address: agents learn both (advertise the pod IP and agent port)',
      );
    }
    this.#warned = { slices, endpointAddr };
  }
}

/**
 * The replicas in these slices: one per endpoint with a targetRef that is not terminating, at its
 * first address and the slice's port named `portName`. An id in several slices (dual stack, slices
 * being rebalanced) keeps the entry of the first slice by address type and name, as every replica
 * sees it. `portless`: slices with endpoints but no such port.
 */
export function replicasOf(slices: readonly V1EndpointSlice[], portName: string): { replicas: MemberReplica[]; portless: string[] } {
  const byId = new Map<string, MemberReplica>();
  const portless: string[] = [];
  const key = (s: V1EndpointSlice): string => `${s.addressType ?? ''}/${s.metadata?.name ?? ''}`;
  for (const slice of [...slices].sort((a, b) => key(a).localeCompare(key(b)))) {
    const port = slice.ports?.find((p) => (p.name ?? '') === portName)?.port;
    if (port === undefined) {
      if ((slice.endpoints ?? []).length > 0) portless.push(slice.metadata?.name ?? '');
      continue;
    }
    for (const endpoint of slice.endpoints ?? []) {
      const id = endpoint.targetRef?.name;
      const address = endpoint.addresses?.[0];
      if (!id || !address || endpoint.conditions?.terminating === true || byId.has(id)) continue;
      byId.set(id, { id, addr: address.includes(':') ? `[${address}]:${port}` : `${address}:${port}` });
    }
  }
  return { replicas: [...byId.values()], portless };
}
