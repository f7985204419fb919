// The agent registry of cluster mode: the node table holds exactly the edge Nodes of the API (names
// and InternalIPs), and an agent is admitted only for such a node, claiming only its InternalIPs.
// A refusal throws; the agent listener turns that into GOAWAY REFUSED with the reason.
import { normalizeIp, normalizeNodeName } from '@edge-tunnel/dnat';
import { AgentRegistry } from '../agents/registry.js';
import type { AgentSession } from '../agents/registry.js';

/** An edge Node as the API shows it. */
export interface EdgeNodeInfo {
  name: string;
  ips: readonly string[];
}

export interface EdgeRegistryOptions {
  /** the label selectors, for refusal sentences */
  selectors: readonly string[];
  /** called for every refused agent (log, Event) */
  onRefused?(agent: AgentSession, reason: string): void;
  /** called for a Node IP that is not an IP address (skipped) */
  onBadIp?(nodeName: string, ip: string): void;
}

/** What setEdgeNodes changed: nodes that left the set (with their session, if one was attached). */
export interface EdgeNodesApplied {
  removed: Array<{ name: string; session: AgentSession | undefined }>;
  upserted: number;
}

export class EdgeAgentRegistry extends AgentRegistry {
  readonly #opts: EdgeRegistryOptions;
  #loaded = false;

  constructor(opts: EdgeRegistryOptions) {
    super();
    this.#opts = opts;
  }

  /** true once the edge Nodes were loaded from the API (agents are refused before that) */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Makes `agent` live for its Node (the Node's IPs stay); throws with the reason when refused. */
  override attach(agent: AgentSession): AgentSession | undefined {
    const reason = this.#refusal(agent);
    if (reason !== undefined) {
      this.#opts.onRefused?.(agent, reason);
      throw new Error(reason);
    }
    const replaced = this.table.attach(agent.nodeName, agent);
    this.changed();
    if (replaced !== undefined && replaced !== agent) this.ended(replaced);
    return replaced;
  }

  /** Replaces the node set with `nodes`: new ones added, IPs updated (sessions kept), others removed. */
  setEdgeNodes(nodes: readonly EdgeNodeInfo[]): EdgeNodesApplied {
    this.#loaded = true;
    const wanted = new Map<string, string[]>();
    for (const node of nodes) {
      const name = normalizeNodeName(node.name);
      if (name !== undefined) wanted.set(name, this.#validIps(name, node.ips));
    }
    const removed: EdgeNodesApplied['removed'] = [];
    for (const known of this.table.nodes()) {
      if (wanted.has(known.name)) continue;
      this.table.removeNode(known.name);
      removed.push({ name: known.name, session: known.session });
    }
    for (const [name, ips] of wanted) this.table.upsertNode(name, ips);
    this.changed();
    for (const r of removed) if (r.session !== undefined) this.ended(r.session);
    return { removed, upserted: wanted.size };
  }

  #validIps(name: string, ips: readonly string[]): string[] {
    return ips.filter((ip) => {
      if (normalizeIp(ip) !== undefined) return true;
      this.#opts.onBadIp?.(name, ip);
      return false;
    });
  }

  #refusal(agent: AgentSession): string | undefined {
    if (!this.#loaded) return 'the edge Nodes are not loaded from the Kubernetes API yet; retry shortly';
    const node = this.table.get(agent.nodeName);
    if (node === undefined) {
      return `node ${agent.nodeName} is not an edge Node: no Node of that name matches ${this.#opts.selectors.map((s) => `'${s}'`).join(' or ')}`;
    }
    // contested IPs (another Node lists them too) are routed to no one, but the agent may still name them
    const nodeIps = new Set([...node.ips, ...node.contested]);
    for (const ip of agent.nodeIps) {
      if (!nodeIps.has(normalizeIp(ip) ?? ip)) {
        return `agent of node ${node.name} claims IP ${ip}, which is not an InternalIP of Node ${node.name} (InternalIPs: ${[...node.ips, ...node.contested].join(', ') || 'none'})`;
      }
    }
    return undefined;
  }
}
