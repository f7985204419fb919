// Where iptables DNAT sends captured connections: the proxy listeners of this server.
import { isIP } from 'node:net';
import type { ListenAddr } from '../addr.js';
import type { IpPort } from '../config.js';

/** The DNAT target for a listener: the flag, else the bound listener (wildcard → $POD_IP or 127.0.0.1). */
export function iptablesTarget(flag: IpPort | undefined, configured: ListenAddr, bound: ListenAddr, podIp: string | undefined): IpPort {
  if (flag !== undefined) return flag;
  const host = configured.host;
  const wildcard = host === '' || host === '0.0.0.0' || host === '::';
  const ip = !wildcard ? host : podIp !== undefined && isIP(podIp) === 4 ? podIp : '127.0.0.1';
  return { ip, port: bound.port };
}
