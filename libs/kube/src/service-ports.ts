// Pure helpers of the DNS writer: the hosts-file text and the internal Service's desired ports.
import type { V1ServicePort } from '@kubernetes/client-node';
import type { PortConfig } from '@edge-tunnel/dnat';

/** Server listener of each channel: the Service's targetPort for its ports. */
export const ServiceTarget = {
  /** HTTPS proxy listener (kubelet 10250 and https-proxy-ports) */
  https: 10263,
  /** HTTP proxy listener (kubelet read-only 10255 and HTTP-channel ports) */
  http: 10264,
} as const;

/** Named container ports of the server Deployment that mean the same as the numbers above. */
const TARGET_NAMES: Record<string, number> = { https: ServiceTarget.https, http: ServiceTarget.http };

const BUILT_INS: readonly V1ServicePort[] = [
  { name: 'kubelet-https', port: 10250, targetPort: ServiceTarget.https, protocol: 'TCP' },
  { name: 'kubelet-http', port: 10255, targetPort: ServiceTarget.http, protocol: 'TCP' },
];

/** Sorted, deduplicated hosts lines `<ip>\t<name>\n` (CoreDNS `hosts` format); '' for no nodes. */
export function hostsText(serviceIp: string, nodeNames: readonly string[]): string {
  const names = [...new Set(nodeNames.map((n) => n.toLowerCase()))].sort();
  return names.map((name) => `${serviceIp}\t${name}\n`).join('');
}

function targetNumber(target: V1ServicePort['targetPort'] | undefined, port: number): number | string {
  if (target === undefined || target === '') return port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  return TARGET_NAMES[target] ?? target;
}

function plain(p: V1ServicePort): V1ServicePort {
  const out: V1ServicePort = { name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol ?? 'TCP' };
  if (p.nodePort !== undefined) out.nodePort = p.nodePort;
  if (p.appProtocol !== undefined) out.appProtocol = p.appProtocol;
  return out;
}

/**
 * The Service ports for `config`: the built-ins 10250→10263 and 10255→10264 (existing entries kept
 * as they are), then every configured port P → 10264 (HTTP channel) or 10263 (HTTPS), in port order.
 * Existing entries that already map P the same way are kept (names included); other ports go.
 */
export function desiredServicePorts(current: readonly V1ServicePort[], config: PortConfig): V1ServicePort[] {
  const tcp = current.filter((p) => (p.protocol ?? 'TCP') === 'TCP');
  const keep = (port: number, target: number): V1ServicePort | undefined => tcp.find((p) => p.port === port && targetNumber(p.targetPort, p.port) === target);
  const out: V1ServicePort[] = BUILT_INS.map((b) => plain(keep(b.port, b.targetPort as number) ?? b));
  const custom = [
    ...[...config.httpPorts].map((port) => ({ port, target: ServiceTarget.http, prefix: 'dnat' })),
    ...[...config.httpsPorts].map((port) => ({ port, target: ServiceTarget.https, prefix: 'https' })),
  ].sort((a, b) => a.port - b.port);
  const names = new Set(out.map((p) => p.name));
  for (const { port, target, prefix } of custom) {
    const existing = keep(port, target);
    const entry = existing && !names.has(existing.name) ? plain(existing) : { name: `${prefix}-${port}`, port, targetPort: target, protocol: 'TCP' };
    names.add(entry.name);
    out.push(entry);
  }
  return out;
}

/** Same ports in the same order (name, port, target, protocol). */
export function samePorts(a: readonly V1ServicePort[], b: readonly V1ServicePort[]): boolean {
  const key = (ps: readonly V1ServicePort[]): string =>
    JSON.stringify(ps.map((p) => [p.name ?? '', p.port, targetNumber(p.targetPort, p.port), p.protocol ?? 'TCP']));
  return key(a) === key(b);
}
