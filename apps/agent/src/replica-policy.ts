// Which replica addresses a server may make this agent dial. The hello and the control stream come
// from the server, which a hostile or compromised server controls: the list is capped, and every
// address must be the --server host itself or an IP inside --replica-cidrs. Names other than the
// --server host are refused (a name could resolve anywhere). Unset, --replica-cidrs is the private
// ranges (pod IPs) on the --server port only: what scaled-out servers in a cluster advertise
// (`$(POD_IP):10262`), and never a public address, loopback, link-local (cloud metadata) or
// another port. `none`: the --server host only.
import { isIP } from 'node:net';
import { cidrList, inCidrList } from './cidr.js';
import type { Replica } from './replicas.js';

/** Most replicas an agent dials (each one is a session and a reconnect loop). */
export const MAX_REPLICAS = 16;

/** Unset --replica-cidrs: RFC 1918, RFC 6598 (shared/CGNAT, some pod networks) and IPv6 ULA. */
export const PRIVATE_RANGES: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];

/** The --replica-cidrs value that admits the --server host only. */
export const NO_REPLICA_CIDRS = 'none';

export interface ReplicaPolicy {
  /** the --server host: replicas on this host are always allowed */
  serverHost: string;
  /** the --server port: the only port of a replica the default ranges admit */
  serverPort: number;
  /** --replica-cidrs, as given ([]: unset, the private ranges on serverPort; ['none']: none) */
  cidrs: readonly string[];
}

export interface Admitted {
  replicas: Replica[];
  refused: Array<{ addr: string; reason: string }>;
}

/** The policy in words, for the refusal reason and the start line. */
export function describePolicy(policy: ReplicaPolicy): string {
  if (policy.cidrs.length === 0) return `--replica-cidrs unset: private ranges ${PRIVATE_RANGES.join(',')} on port ${policy.serverPort}`;
  if (isNone(policy.cidrs)) return '--replica-cidrs none';
  return `--replica-cidrs ${policy.cidrs.join(',')}`;
}

/** Keeps the allowed replicas (at most MAX_REPLICAS, in order); says why each other one was refused. */
export function admitReplicas(replicas: readonly Replica[], policy: ReplicaPolicy): Admitted {
  const byDefault = policy.cidrs.length === 0;
  const list = cidrList(byDefault ? PRIVATE_RANGES : isNone(policy.cidrs) ? [] : policy.cidrs);
  const out: Admitted = { replicas: [], refused: [] };
  for (const r of replicas) {
    const { host, port } = hostPortOf(r.addr);
    const family = isIP(host);
    let why: string | undefined;
    if (out.replicas.length >= MAX_REPLICAS) why = `more than ${MAX_REPLICAS} replicas in the list`;
    else if (host.toLowerCase() === policy.serverHost.toLowerCase()) why = undefined;
    else if (family === 0) why = 'a host name other than the --server host';
    else if (!inCidrList(list, host)) why = 'an IP outside --replica-cidrs';
    else if (byDefault && port !== policy.serverPort)
      why = `a port other than the --server port ${policy.serverPort} (set --replica-cidrs to admit other ports)`;
    if (why === undefined) out.replicas.push(r);
    else out.refused.push({ addr: r.addr, reason: `${why} (--server host ${policy.serverHost}, ${describePolicy(policy)})` });
  }
  return out;
}

const isNone = (cidrs: readonly string[]): boolean => cidrs.length === 1 && cidrs[0] === NO_REPLICA_CIDRS;

function hostPortOf(addr: string): { host: string; port: number | undefined } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(addr);
  return { host: m?.[1] ?? m?.[2] ?? addr, port: m?.[3] === undefined ? undefined : Number(m[3]) };
}
