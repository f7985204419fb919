// Which replica addresses a server may make this agent dial. The hello and the control stream come
// from the server, which a hostile or compromised server controls: the list is capped, and every
// address must be the --server host itself or an IP inside --replica-cidrs. Names other than the
// --server host are refused (a name could resolve anywhere).
import { BlockList, isIP } from 'node:net';
import type { Replica } from './replicas.js';

/** Most replicas an agent dials (each one is a session and a reconnect loop). */
export const MAX_REPLICAS = 16;

export interface ReplicaPolicy {
  /** the --server host: replicas on this host are always allowed */
  serverHost: string;
  /** --replica-cidrs, as given */
  cidrs: readonly string[];
}

export interface Admitted {
  replicas: Replica[];
  refused: Array<{ addr: string; reason: string }>;
}

/** "10.0.0.0/8" or "fd00::/8" → a BlockList check; throws with a sentence on bad input. */
export function parseCidr(text: string): { net: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  const family = m ? isIP(m[1]!) : 0;
  const prefix = m ? Number(m[2]) : -1;
  if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`"${text}" is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`);
  return { net: m[1]!, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** Keeps the allowed replicas (at most MAX_REPLICAS, in order); says why each other one was refused. */
export function admitReplicas(replicas: readonly Replica[], policy: ReplicaPolicy): Admitted {
  const list = new BlockList();
  for (const c of policy.cidrs) {
    const { net, prefix, family } = parseCidr(c);
    list.addSubnet(net, prefix, family);
  }
  const out: Admitted = { replicas: [], refused: [] };
  for (const r of replicas) {
    const host = hostOf(r.addr);
    const family = isIP(host);
    if (out.replicas.length >= MAX_REPLICAS) {
      out.refused.push({ addr: r.addr, reason: `more than ${MAX_REPLICAS} replicas in the list` });
    } else if (host.toLowerCase() === policy.serverHost.toLowerCase()) {
      out.replicas.push(r);
    } else if (family !== 0 && list.check(host, family === 4 ? 'ipv4' : 'ipv6')) {
      out.replicas.push(r);
    } else {
      const why = family === 0 ? 'a host name other than the --server host' : 'an IP outside --replica-cidrs';
      out.refused.push({ addr: r.addr, reason: `${why} (--server host ${policy.serverHost}, --replica-cidrs ${policy.cidrs.join(',') || 'none'})` });
    }
  }
  return out;
}

function hostOf(addr: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::\d+)?$/.exec(addr);
  return m?.[1] ?? m?.[2] ?? addr;
}
