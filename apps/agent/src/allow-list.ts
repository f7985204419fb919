// Which targets the agent dials: its node's kubelet ports, and the ports the server's port config
// names (told over the session, `follow()`) on the node's own addresses and on 127.0.0.1, each
// within the operator's ceiling (--allow-ports, --localhost-ports). Before any port config arrived
// (an older server) the ceilings alone are the allowed ports, as before port following. Everything
// else is refused with a reason that says which rule refused it and what to change.
import { isIP } from 'node:net';
import { PortSet, refusedByCeiling, type AgentPorts, type PortCeiling } from '@edge-tunnel/dnat';
import { formatPorts, type PortRange } from './ports.js';

/** Kubelet HTTPS and read-only HTTP ports: always allowed on the node's addresses. */
export const KUBELET_PORTS: readonly PortRange[] = [
  { lo: 10250, hi: 10250 },
  { lo: 10255, hi: 10255 },
];
export const LOCALHOST = '127.0.0.1';
const KUBELET = PortSet.ofSpans(KUBELET_PORTS);
/** Longest port list quoted in a reason (a RESET reason is at most 1 024 bytes). */
const MAX_LISTED = 300;

export interface AllowListOptions {
  nodeName: string;
  nodeIps: readonly string[];
  /** ceiling on node-IP ports besides the kubelet's; undefined (flag unset): every port the server names */
  allowPorts?: readonly PortRange[];
  /** ceiling on 127.0.0.1 ports; empty (flag unset): none */
  localhostPorts: readonly PortRange[];
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

/** What the server's port config asks for, what the ceilings leave of it, and what they refuse. */
export interface Following {
  rev: number;
  allowed: AgentPorts;
  refused: AgentPorts;
}

/** Lower-case, IPv4-mapped IPv6 unwrapped, so that equal addresses compare equal. */
export function normalizeIp(ip: string): string {
  const lower = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? mapped[1]! : lower;
}

const clip = (text: string): string => (text.length > MAX_LISTED ? `${text.slice(0, MAX_LISTED)}…` : text);

export class AllowList {
  /** the operator's ceilings, as the hello tells the server */
  readonly ceiling: PortCeiling;
  private readonly ips: Set<string>;
  private server: (AgentPorts & { rev: number }) | undefined;
  private current: Following | undefined;

  constructor(private readonly opts: AllowListOptions) {
    this.ips = new Set(opts.nodeIps.map(normalizeIp));
    this.ceiling = {
      node: opts.allowPorts === undefined ? PortSet.ALL : PortSet.ofSpans(opts.allowPorts),
      localhost: PortSet.ofSpans(opts.localhostPorts),
    };
  }

  /** The server's ports for this node (replacing any earlier ones); returns what the ceilings refuse. */
  follow(ports: AgentPorts & { rev: number }): Following {
    this.server = ports;
    const refused = refusedByCeiling(ports, this.ceiling);
    const allowed = { node: ports.node.minus(refused.node), localhost: ports.localhost.minus(refused.localhost) };
    this.current = { rev: ports.rev, allowed, refused };
    return this.current;
  }

  /** The port config in force, once a server sent one. */
  get following(): Following | undefined {
    return this.current;
  }

  check(host: string, port: number): Verdict {
    const why = this.problem(normalizeIp(host), port);
    if (why === undefined) return { allowed: true };
    return {
      allowed: false,
      reason: `${host}:${port} is not allowed by edge-tunnel-agent on ${this.opts.nodeName}: ${why} (allowed: ${this.describe()})`,
    };
  }

  /** "10.0.0.5 ports 10250,10255,9100-9199; 127.0.0.1 ports 10248" (long lists cut) */
  describe(): string {
    const node = this.current ? this.current.allowed.node.toString() : formatPorts(this.opts.allowPorts ?? []);
    const localhost = this.current ? this.current.allowed.localhost : this.ceiling.localhost;
    const parts = [`${[...this.ips].join(',')} ports ${clip(formatPorts(KUBELET_PORTS) + (node ? `,${node}` : ''))}`];
    if (localhost.size > 0) parts.push(`${LOCALHOST} ports ${clip(localhost.toString())}`);
    return parts.join('; ');
  }

  private problem(host: string, port: number): string | undefined {
    if (!Number.isInteger(port) || port < 1 || port > 65_535) return `port ${port} is not a valid port`;
    if (isIP(host) === 0) return `host "${host}" is not an IP address`;
    if (this.ips.has(host)) return KUBELET.has(port) ? undefined : this.nodePortProblem(port);
    if (host === LOCALHOST) return this.localhostProblem(port);
    return `host ${host} is not an address of this node`;
  }

  private nodePortProblem(port: number): string | undefined {
    if (this.server === undefined) {
      // no port config from the server (an older one): the ceiling is the list, as before
      return this.opts.allowPorts !== undefined && this.ceiling.node.has(port) ? undefined : `port ${port} is not an allowed node port`;
    }
    if (!this.server.node.has(port)) return `port ${port} is not a node port in the server's port config (rev ${this.server.rev})`;
    if (!this.ceiling.node.has(port)) {
      return (
        `port ${port} is in the server's port config but above this agent's --allow-ports ceiling (${clip(formatPorts(this.opts.allowPorts ?? []))}): ` +
        `add it to --allow-ports (EDGE_TUNNEL_ALLOW_PORTS) on ${this.opts.nodeName}, or remove it from the port config`
      );
    }
    return undefined;
  }

  private localhostProblem(port: number): string | undefined {
    if (this.server === undefined) return this.ceiling.localhost.has(port) ? undefined : `port ${port} is not an allowed localhost port`;
    if (!this.server.localhost.has(port)) return `port ${port} is not a localhost port in the server's port config (rev ${this.server.rev})`;
    if (!this.ceiling.localhost.has(port)) {
      return (
        `port ${port} is a localhost port in the server's port config but above this agent's --localhost-ports ceiling ` +
        `(${clip(this.ceiling.localhost.toString()) || 'none'}): add it to --localhost-ports (EDGE_TUNNEL_LOCALHOST_PORTS) on ${this.opts.nodeName}, ` +
        'or remove it from localhost-proxy-ports'
      );
    }
    return undefined;
  }
}
