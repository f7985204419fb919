// Which targets the agent dials: its node's kubelet ports and configured ports on the node's own
// addresses, and configured localhost ports on 127.0.0.1. Everything else is refused with a reason.
import { isIP } from 'node:net';
import { formatPorts, inPorts, type PortRange } from './ports.js';

/** Kubelet HTTPS and read-only HTTP ports: always allowed on the node's addresses. */
export const KUBELET_PORTS: readonly PortRange[] = [
  { lo: 10250, hi: 10250 },
  { lo: 10255, hi: 10255 },
];
export const LOCALHOST = '127.0.0.1';

export interface AllowListOptions {
  nodeName: string;
  nodeIps: readonly string[];
  /** extra ports allowed on the node's addresses */
  allowPorts: readonly PortRange[];
  /** ports allowed on 127.0.0.1 */
  localhostPorts: readonly PortRange[];
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

/** Lower-case, IPv4-mapped IPv6 unwrapped, so that equal addresses compare equal. */
export function normalizeIp(ip: string): string {
  const lower = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? mapped[1]! : lower;
}

export class AllowList {
  private readonly ips: Set<string>;
  private readonly nodePorts: PortRange[];

  constructor(private readonly opts: AllowListOptions) {
    this.ips = new Set(opts.nodeIps.map(normalizeIp));
    this.nodePorts = [...KUBELET_PORTS, ...opts.allowPorts];
  }

  check(host: string, port: number): Verdict {
    const why = this.problem(normalizeIp(host), port);
    if (why === undefined) return { allowed: true };
    return {
      allowed: false,
      reason: `${host}:${port} is not allowed by edge-tunnel-agent on ${this.opts.nodeName}: ${why} (allowed: ${this.describe()})`,
    };
  }

  /** "10.0.0.5 ports 10250,10255,9100-9199; 127.0.0.1 ports 10248" */
  describe(): string {
    const parts = [`${[...this.ips].join(',')} ports ${formatPorts(this.nodePorts)}`];
    if (this.opts.localhostPorts.length > 0) parts.push(`${LOCALHOST} ports ${formatPorts(this.opts.localhostPorts)}`);
    return parts.join('; ');
  }

  private problem(host: string, port: number): string | undefined {
    if (!Number.isInteger(port) || port < 1 || port > 65_535) return `port ${port} is not a valid port`;
    if (isIP(host) === 0) return `host "${host}" is not an IP address`;
    if (this.ips.has(host)) {
      return inPorts(this.nodePorts, port) ? undefined : `port ${port} is not an allowed node port`;
    }
    if (host === LOCALHOST) {
      return inPorts(this.opts.localhostPorts, port) ? undefined : `port ${port} is not an allowed localhost port`;
    }
    return `host ${host} is not an address of this node`;
  }
}
