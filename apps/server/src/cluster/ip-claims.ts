// Node IPs are claimed once. An edge Node that lists an IP another Node (edge or cloud) lists too is
// refused that IP, and so is the other: neither is routed to by it, and iptables never captures it.
// Conflicts between edge Nodes are the node table's (dnat NodeTable: contested IPs); conflicts with
// Nodes outside the edge set are found here, from every Node's addresses, before the table sees them.
import { normalizeIp } from '@edge-tunnel/dnat';
import type { IpConflict } from '@edge-tunnel/dnat';
import type { EdgeNode } from '@edge-tunnel/kube';

/** Event reason on each Node of a conflict. */
export const NODE_IP_CONFLICT_REASON = 'NodeIpConflict';

/** Edge nodes without the IPs a non-edge Node lists too, and those conflicts. */
export function withoutForeignIps(edge: readonly EdgeNode[], claims: ReadonlyMap<string, readonly string[]>): { nodes: EdgeNode[]; conflicts: IpConflict[] } {
  const edgeNames = new Set(edge.map((n) => n.name));
  const byIp = new Map<string, Set<string>>();
  for (const [ip, names] of claims) {
    const canonical = normalizeIp(ip) ?? ip;
    const set = byIp.get(canonical) ?? new Set<string>();
    for (const n of names) set.add(n);
    byIp.set(canonical, set);
  }
  const conflicts = new Map<string, Set<string>>();
  const nodes = edge.map((node) => ({
    name: node.name,
    ips: node.ips.filter((ip) => {
      const canonical = normalizeIp(ip) ?? ip;
      const foreign = [...(byIp.get(canonical) ?? [])].filter((n) => !edgeNames.has(n));
      if (foreign.length === 0) return true;
      const set = conflicts.get(canonical) ?? new Set(foreign);
      set.add(node.name);
      conflicts.set(canonical, set);
      return false;
    }),
  }));
  return { nodes, conflicts: [...conflicts].map(([ip, names]) => ({ ip, nodes: [...names].sort() })) };
}

/** Reports each conflict once while it lasts (warn line and Events), and forgets resolved ones. */
export class ConflictReporter {
  #known = new Set<string>();
  #current: IpConflict[] = [];

  constructor(private readonly report: (conflict: IpConflict, message: string) => void) {}

  update(conflicts: readonly IpConflict[]): void {
    const next = new Set<string>();
    for (const c of conflicts) {
      const key = `${c.ip} ${c.nodes.join(',')}`;
      next.add(key);
      if (!this.#known.has(key)) {
        this.report(c, `IP ${c.ip} is listed by Nodes ${c.nodes.join(' and ')}: it is routed to none of them and never captured until all but one drop it`);
      }
    }
    this.#known = next;
    this.#current = [...conflicts].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }

  /** For /debug/cluster. */
  current(): IpConflict[] {
    return this.#current;
  }
}
