// Which replica addresses a server may make this agent dial. The hello and the control stream come
// from the server, which a hostile or compromised server controls: the list is capped, and every
// address must be the --server host itself or an IP inside --replica-cidrs. Names other than the
// --server host are refused (a name could resolve anywhere).
import { isIP } from 'node:net';
import { cidrList, inCidrList } from './cidr.js';
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

/** Keeps the allowed replicas (at most MAX_REPLICAS, in order); says why each other one was refused. */
export function admitReplicas(replicas: readonly Replica[], policy: ReplicaPolicy): Admitted {
  const list = cidrList(policy.cidrs);
  const out: Admitted = { replicas: [], refused: [] };
  for (const r of replicas) {
    const host = hostOf(r.addr);
    const family = isIP(host);
    if (out.replicas.length >= MAX_REPLICAS) {
      out.refused.push({ addr: r.addr, reason: `more than ${MAX_REPLICAS} replicas in the list` });
    } else if (host.toLowerCase() === policy.serverHost.toLowerCase()) {
      out.replicas.push(r);
    } else if (inCidrList(list, host)) {
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
