// Which edge node names may go into the CoreDNS hosts file (pure). The hosts block sits before the
// `kubernetes` plugin, so every name in it shadows the cluster's own answer for that name: a Node
// named `kubernetes.default.svc.cluster.local` would send the API's clients to the tunnel server, and
// the server would relay a configured port of that name to the node that chose it. Names are refused
// when they can only collide with cluster names; the node stays reachable by IP and by X-Tunnel-Proxy-Dest.

/** Why a node name is left out of the hosts file. */
export const DnsNameRefusal = {
  /** not an RFC 1123 subdomain (lower-case letters, digits, `-`, `.`; labels 1..63, 253 in all) */
  INVALID_NAME: 'INVALID_NAME',
  /** the cluster domain itself or a name inside it (`*.cluster.local`): Services and Pods live there */
  CLUSTER_DOMAIN: 'CLUSTER_DOMAIN',
  /** `<service>.<namespace>` or `<service>.<namespace>.svc` of a well-known namespace, or `*.svc` */
  SERVICE_FORM: 'SERVICE_FORM',
  /** `localhost` and names under it */
  RESERVED: 'RESERVED',
} as const;
export type DnsNameRefusal = (typeof DnsNameRefusal)[keyof typeof DnsNameRefusal];

/** Namespaces every cluster has: `<svc>.<ns>` of these resolves absolute too for some resolvers. */
export const WELL_KNOWN_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A refused name with the reason and a sentence for the log. */
export interface RefusedName {
  readonly nodeName: string;
  readonly code: DnsNameRefusal;
  readonly reason: string;
}

/** Why `name` must not be published, or undefined when it may. */
export function refuseDnsName(name: string, clusterDomain: string = DEFAULT_CLUSTER_DOMAIN): RefusedName | undefined {
  const lower = name.toLowerCase();
  const labels = lower.split('.');
  const refuse = (code: DnsNameRefusal, why: string): RefusedName => ({
    nodeName: name,
    code,
    reason: `node name ${JSON.stringify(name.slice(0, 253))} is not published in the DNS hosts file: ${why}; reach the node by IP or rename it`,
  });
  if (lower.length === 0 || lower.length > 253 || !labels.every((l) => LABEL.test(l))) {
    return refuse(DnsNameRefusal.INVALID_NAME, 'it is not an RFC 1123 DNS subdomain');
  }
  const domain = clusterDomain.toLowerCase().replace(/\.$/, '');
  if (lower === domain || lower.endsWith(`.${domain}`)) {
    return refuse(DnsNameRefusal.CLUSTER_DOMAIN, `it is inside the cluster domain ${domain} and would shadow a cluster name`);
  }
  const last = labels.at(-1)!;
  const ns = last === 'svc' ? labels.at(-2) : last;
  if (labels.length > 1 && (last === 'svc' || WELL_KNOWN_NAMESPACES.includes(last))) {
    return refuse(
      DnsNameRefusal.SERVICE_FORM,
      `it has the form of a Service name (<service>.${ns ?? '<namespace>'}${last === 'svc' ? '.svc' : ''}) and would shadow it`,
    );
  }
  if (last === 'localhost') return refuse(DnsNameRefusal.RESERVED, 'localhost is reserved');
  return undefined;
}

/** The names that may be published, and those refused (in input order). */
export function publishableNames(names: readonly string[], clusterDomain?: string): { names: string[]; refused: RefusedName[] } {
  const out: string[] = [];
  const refused: RefusedName[] = [];
  for (const name of names) {
    const r = refuseDnsName(name, clusterDomain);
    if (r === undefined) out.push(name);
    else refused.push(r);
  }
  return { names: out, refused };
}
