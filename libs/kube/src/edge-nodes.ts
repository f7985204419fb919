// Edge nodes: the union of one Node informer per label selector, deduplicated by name. A node that is
// relabelled so that no selector matches any more leaves the set (the watch reports it DELETED).
// One more informer over every Node (no selector) knows which Nodes list which IP, so that an edge
// Node listing a cloud Node's IP can be refused that IP (ipClaims()).
import { EventEmitter } from 'node:events';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Node } from '@kubernetes/client-node';
import type { BackoffOptions } from './backoff.js';
import { ResilientInformer } from './informer.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';

/** Label selectors that mark edge nodes (managed edge clusters and OpenYurt). */
export const DEFAULT_EDGE_SELECTORS: readonly string[] = ['alibabacloud.com/is-edge-worker=true', 'openyurt.io/is-edge-worker=true'];

/** One edge node as the node table needs it: its name and its InternalIP addresses. */
export interface EdgeNode {
  name: string;
  ips: string[];
}

export interface EdgeNodesOptions {
  /** Default DEFAULT_EDGE_SELECTORS; a node matching any of them is an edge node. */
  selectors?: readonly string[];
  logger?: Logger;
  backoff?: BackoffOptions;
  /** Watch every Node too, for ipClaims(); default true. */
  watchAllNodes?: boolean;
}

export interface EdgeNodeWatcher {
  on(event: 'change', listener: (nodes: EdgeNode[]) => void): this;
  on(event: 'claims', listener: (claims: ReadonlyMap<string, readonly string[]>) => void): this;
  on(event: 'error', listener: (err: unknown) => void): this;
}

/** Emits 'change' (sorted nodes) whenever a node appears, goes, or changes its InternalIPs, and 'claims'
 * (ipClaims()) when the set of IPs listed by several Nodes changes. */
export class EdgeNodeWatcher extends EventEmitter {
  readonly #informers: ResilientInformer<V1Node>[];
  readonly #all: ResilientInformer<V1Node> | undefined;
  #claims = new Map<string, string[]>();
  readonly #log: Logger;
  #nodes: EdgeNode[] = [];
  #fingerprint = '[]';

  constructor(kc: KubeConfig, opts: EdgeNodesOptions = {}) {
    super();
    this.#log = opts.logger ?? silentLogger;
    const core = kc.makeApiClient(CoreV1Api);
    const selectors = [...new Set(opts.selectors ?? DEFAULT_EDGE_SELECTORS)];
    this.#informers = selectors.map((labelSelector) => {
      const informer = new ResilientInformer<V1Node>(kc, {
        path: '/api/v1/nodes',
        labelSelector,
        list: () => core.listNode({ labelSelector }),
        name: `nodes ${labelSelector}`,
        logger: this.#log,
        backoff: opts.backoff,
      });
      const recompute = (): void => this.#recompute();
      informer.on('add', recompute).on('update', recompute).on('delete', recompute).on('synced', recompute);
      informer.on('error', (err) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
      return informer;
    });
    if (opts.watchAllNodes ?? true) {
      this.#all = new ResilientInformer<V1Node>(kc, {
        path: '/api/v1/nodes',
        list: () => core.listNode(),
        name: 'nodes (all, for IP claims)',
        logger: this.#log,
        backoff: opts.backoff,
      });
      const recompute = (): void => this.#recomputeClaims();
      this.#all.on('add', recompute).on('update', recompute).on('delete', recompute).on('synced', recompute);
      this.#all.on('error', (err) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
    }
  }

  start(): this {
    for (const informer of this.#every()) informer.start();
    return this;
  }

  /** IP → the names (sorted) of every Node, edge or not, listing it as InternalIP or ExternalIP. */
  ipClaims(): ReadonlyMap<string, readonly string[]> {
    return this.#claims;
  }

  #every(): ResilientInformer<V1Node>[] {
    return this.#all ? [...this.#informers, this.#all] : this.#informers;
  }

  #recomputeClaims(): void {
    const claims = new Map<string, string[]>();
    for (const node of this.#all!.list()) {
      const name = node.metadata?.name;
      if (!name) continue;
      for (const ip of nodeIps(node)) claims.set(ip, [...(claims.get(ip) ?? []), name].sort());
    }
    // only conflicts (an IP listed by several Nodes) matter: other claim changes are no change. A claims
    // change is its own event, so that 'change' keeps meaning "the edge set changed"
    const shared = (m: Map<string, string[]>): string => JSON.stringify([...m].filter(([, n]) => n.length > 1).sort());
    const changed = shared(claims) !== shared(this.#claims);
    this.#claims = claims;
    if (changed) this.emit('claims', this.#claims);
  }

  /** The edge nodes, sorted by name. */
  nodes(): EdgeNode[] {
    return this.#nodes.map((n) => ({ name: n.name, ips: [...n.ips] }));
  }

  get synced(): boolean {
    return this.#every().every((i) => i.synced);
  }

  /** Resolves once every selector's first list (and the all-Nodes list) has completed. */
  async whenSynced(): Promise<void> {
    await Promise.all(this.#every().map((i) => i.whenSynced()));
  }

  /** Sum of the informers' restarts. */
  get restarts(): number {
    return this.#every().reduce((sum, i) => sum + i.restarts, 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#every().map((i) => i.stop()));
  }

  #recompute(): void {
    const byName = new Map<string, EdgeNode>();
    for (const informer of this.#informers) {
      for (const node of informer.list()) {
        const name = node.metadata?.name;
        if (name && !byName.has(name)) byName.set(name, { name, ips: internalIps(node) });
      }
    }
    const nodes = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const fingerprint = JSON.stringify(nodes);
    if (fingerprint === this.#fingerprint) return;
    this.#fingerprint = fingerprint;
    this.#nodes = nodes;
    this.#log.info({ nodes: nodes.length }, 'edge nodes changed');
    this.emit('change', this.nodes());
  }
}

/** Starts watching edge nodes; see EdgeNodeWatcher. */
export function watchEdgeNodes(kc: KubeConfig, opts: EdgeNodesOptions = {}): EdgeNodeWatcher {
  return new EdgeNodeWatcher(kc, opts).start();
}

/** A node's InternalIP addresses, in status order, without duplicates. */
export function internalIps(node: Pick<V1Node, 'status'>): string[] {
  const ips: string[] = [];
  for (const a of node.status?.addresses ?? []) {
    if (a.type === 'InternalIP' && a.address && !ips.includes(a.address)) ips.push(a.address);
  }
  return ips;
}

/** A node's InternalIP and ExternalIP addresses (the ones a capture could take), without duplicates. */
function nodeIps(node: Pick<V1Node, 'status'>): string[] {
  const ips: string[] = [];
  for (const a of node.status?.addresses ?? []) {
    if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && a.address && !ips.includes(a.address)) ips.push(a.address);
  }
  return ips;
}
