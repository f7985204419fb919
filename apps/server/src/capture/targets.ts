// Where iptables DNAT sends captured connections: the proxy listeners of this server.
import { isIP } from 'node:net';
import { formatAddr, isWildcard } from '../addr.js';
import type { ListenAddr } from '../addr.js';
import type { IpPort, ServerConfig } from '../server-config.js';
import { ServerError, ServerErrorCode } from '../errors.js';

/** Which listener a target is for: its flags, for the error sentence. */
export interface TargetFlags {
  target: string;
  addr: string;
}

/**
 * The DNAT target for a listener: the flag, else the bound listener; a wildcard listener needs an
 * IPv4 $POD_IP (a DNAT to 127.0.0.1 misses routed traffic), else this throws naming the flags.
 */
export function iptablesTarget(flag: IpPort | undefined, configured: ListenAddr, bound: ListenAddr, podIp: string | undefined, flags: TargetFlags): IpPort {
  if (flag !== undefined) return flag;
  if (!isWildcard(configured.host)) return { ip: configured.host, port: bound.port };
  if (podIp !== undefined && isIP(podIp) === 4) return { ip: podIp, port: bound.port };
  throw new ServerError(
    ServerErrorCode.INVALID_CONFIG,
    `--capture=iptables: --${flags.addr} ${formatAddr(configured)} listens on every address, so the DNAT target is unknown; ` +
      `set --${flags.target} to an IPv4 ip:port of this host${podIp !== undefined ? ` ($POD_IP ${podIp} is not IPv4)` : ', or $POD_IP'}`,
  );
}

/** Both DNAT targets of this server; `bound` gives the real ports (port 0 asked). */
export function iptablesTargets(c: ServerConfig, bound: { https: ListenAddr; http: ListenAddr }): { httpsTarget: IpPort; httpTarget: IpPort } {
  return {
    httpsTarget: iptablesTarget(c.iptablesHttpsTarget, c.httpsAddr, bound.https, c.podIp, { target: 'iptables-https-target', addr: 'https-addr' }),
    httpTarget: iptablesTarget(c.iptablesHttpTarget, c.httpAddr, bound.http, c.podIp, { target: 'iptables-http-target', addr: 'http-addr' }),
  };
}
