// Sorting edge node IPs into those we can capture with IPv4 iptables rules and those we skip (pure).
import { normalizeIp } from '@edge-tunnel/dnat';
import { isIPv4 } from 'node:net';
import { CaptureError, CaptureErrorCode } from './errors.js';

/** Why a node IP gets no rule. */
export const SkipReason = {
  /** IPv6: the listeners are IPv4 and this lib renders `iptables` (IPv4) only */
  IPV6: 'IPV6',
  /** 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/3 (multicast, reserved, broadcast): never a node address */
  NOT_UNICAST: 'NOT_UNICAST',
  /** the IP of a listener target: capturing it would capture this host's own ports */
  LISTENER_ADDRESS: 'LISTENER_ADDRESS',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** A node IP that gets no rule, and why. */
export interface SkippedIp {
  readonly ip: string;
  readonly reason: SkipReason;
}

/** The node IPs to capture (canonical, unique, numerically sorted) and those skipped. */
export interface SortedIps {
  readonly capture: string[];
  readonly skipped: SkippedIp[];
}

/** Sorts `nodeIps`; throws `ERR_CAPTURE_INVALID_IP` for anything that is not an IP address. */
export function sortNodeIps(nodeIps: readonly string[], listenerIps: readonly string[]): SortedIps {
  const capture = new Set<string>();
  const skipped = new Map<string, SkipReason>();
  for (const input of nodeIps) {
    const ip = normalizeIp(input);
    if (ip === undefined) {
      throw new CaptureError(CaptureErrorCode.INVALID_IP, `invalid node IP ${JSON.stringify(input)}: expected an IPv4 or IPv6 address`);
    }
    const reason = skipReason(ip, listenerIps);
    if (reason === undefined) capture.add(ip);
    else skipped.set(ip, reason);
  }
  return {
    capture: [...capture].sort((a, b) => ipv4ToInt(a) - ipv4ToInt(b)),
    skipped: [...skipped].map(([ip, reason]) => ({ ip, reason })),
  };
}

function skipReason(ip: string, listenerIps: readonly string[]): SkipReason | undefined {
  if (!isIPv4(ip)) return SkipReason.IPV6;
  const first = Number(ip.split('.')[0]);
  if (first === 0 || first === 127 || first >= 224) return SkipReason.NOT_UNICAST;
  if (listenerIps.includes(ip)) return SkipReason.LISTENER_ADDRESS;
  return undefined;
}

/** The address as an unsigned 32-bit number (for sorting). */
export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** One warning sentence per skip reason, naming the IPs. */
export function skipWarnings(skipped: readonly SkippedIp[]): string[] {
  const text: Record<SkipReason, string> = {
    IPV6: 'IPv6 node IPs are not captured: the iptables rules are IPv4-only; reach them by DNS or CONNECT',
    NOT_UNICAST: 'node IPs that are not unicast addresses are never captured',
    LISTENER_ADDRESS: 'node IPs equal to a listener address of this host are not captured (that would capture the host itself)',
  };
  const out: string[] = [];
  for (const reason of Object.values(SkipReason)) {
    const ips = skipped.filter((s) => s.reason === reason).map((s) => s.ip);
    if (ips.length > 0) out.push(`${text[reason]}: ${ips.join(', ')}`);
  }
  return out;
}
