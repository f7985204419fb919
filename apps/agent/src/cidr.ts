// CIDR ranges as the agent checks addresses against them (--replica-cidrs, NO_PROXY): parsed once
// into a BlockList of node:net.
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  net: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8" or "fd00::/8"; throws with a sentence on bad input. */
export function parseCidr(text: string): Cidr {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  const family = m ? isIP(m[1]!) : 0;
  const prefix = m ? Number(m[2]) : -1;
  if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`"${text}" is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`);
  return { net: m[1]!, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** The ranges as one BlockList (each parsed by parseCidr, which throws on a bad one). */
export function cidrList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const { net, prefix, family } = parseCidr(c);
    list.addSubnet(net, prefix, family);
  }
  return list;
}

/** True when `host` is an IP inside `list` (a name never is). */
export function inCidrList(list: BlockList, host: string): boolean {
  const family = isIP(host);
  return family !== 0 && list.check(host, family === 4 ? 'ipv4' : 'ipv6');
}
