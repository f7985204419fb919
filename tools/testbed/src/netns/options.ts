// What the testbed builds: its modes, options and the address plan (pure; no I/O here).

/** `netns`: namespaces + veths + iptables DNAT (root). `loopback`: 127.x addresses, callers use CONNECT. */
export type TestbedMode = 'netns' | 'loopback';

export interface TestbedOptions {
  /** number of edge namespaces (nodes), 1..50; default 2 */
  edges?: number;
  /** default: `netns` when root (or `EDGE_TUNNEL_TESTBED_MODE`), else `loopback` */
  mode?: TestbedMode;
  /** run prometheus-node-exporter on `<edgeIP>:<exporterPort>` of these edges (0-based); default [0] */
  exporterOn?: number[];
  /** default 9100 */
  exporterPort?: number;
  /** initial content of the port config file (ConfigMap keys); default none */
  portConfig?: Record<string, string>;
  /** ports the agents allow besides 10250/10255; default [exporterPort] */
  agentAllowPorts?: number[];
  /** receives every log line of every process, already formatted; default: kept in `logs()` only */
  log?: (line: string) => void;
  /** where certificates, config and logs go; default a new temp dir, removed by close() */
  dir?: string;
  /** extra flags appended to the server's command line (e.g. keepalive timings) */
  serverArgs?: string[];
  /** extra flags appended to every agent's command line */
  agentArgs?: string[];
  /**
   * How agents start: `testbed` (its own flag list: issued certificate, fast backoff) or `daemonset`
   * (the container args of k8s/base/agent-daemonset.yaml, `$(VAR)`s filled in as the kubelet does, its
   * volumes as directories, the node already enrolled: agent.crt/key in the state volume). Default testbed.
   */
  agentCommand?: 'testbed' | 'daemonset';
  /** netns only: a proxy namespace running Debian's squid between the edges and the cloud (EgressProxyOptions) */
  egressProxy?: EgressProxyOptions;
  /** netns only: the edges' uplinks cross a wire namespace whose user-space delay line adds delay, loss, jitter and a rate limit (WeakLinkOptions) */
  weakLink?: WeakLinkOptions;
}

/** How one direction of the weak link is shaped (delay-line/delay_line.py). */
export interface LinkShape {
  /** one-way propagation delay, ms (the round trip is twice this when both directions have it) */
  delayMs: number;
  /** per-packet random loss, percent (seeded) */
  lossPct?: number;
  /** uniform random jitter ± this many ms on the delay (packets are not reordered) */
  jitterMs?: number;
  /** bottleneck rate, Mbit/s (serialization delay of each packet); 0 or none: no limit */
  rateMbit?: number;
  /** the bottleneck queue's depth in ms of backlog (tail drop beyond it); default 100 */
  queueMs?: number;
}

/**
 * A weak uplink for every edge (one shared line, like a WAN): both directions shaped alike unless
 * `up` (edge → cloud) or `down` override a field. `seed` makes the loss repeatable; default 1.
 */
export interface WeakLinkOptions extends LinkShape {
  up?: Partial<LinkShape>;
  down?: Partial<LinkShape>;
  seed?: number;
}

export interface WirePlan {
  /** the wire namespace: edge uplinks on one side, one veth to the cloud on the other, the delay line between */
  ns: string;
  /** the wire end / cloud end of the wire↔cloud veth (a /30) */
  cloudLinkWire: string;
  cloudLinkCloud: string;
  /** the TUN devices of the delay line: packets routed into `tunEdge` come from the edges, into `tunCloud` from the cloud */
  tunEdge: string;
  tunCloud: string;
}

/**
 * The edges' only way out is squid's CONNECT: their uplinks end in a proxy namespace (no forwarding)
 * whose one link goes to the cloud; an edge has a route to squid's address and to nothing else.
 */
export interface EgressProxyOptions {
  kind: 'squid';
  /** Basic proxy authentication (squid's basic_ncsa_auth); default none */
  auth?: { user: string; password: string };
  /**
   * How each agent is told, as an operator would: `env` — `HTTPS_PROXY=http://[user:password@]proxy:3128`
   * in its environment; `flag` — `--proxy http://proxy:3128` plus `--proxy-auth-file` (user:password,
   * mode 0600) with auth. Default env.
   */
  via?: 'env' | 'flag';
  /** `websocket`: the server also listens for WebSocket sessions on <lb>:443 and agents dial `--transport websocket`. Default tls. */
  transport?: 'tls' | 'websocket';
  /** ports squid lets CONNECT reach (its SSL_ports); default [10262, 443] */
  connectPorts?: number[];
}

/** squid's port in the proxy namespace (Debian's default). */
export const PROXY_PORT = 3128;

export interface ProxyPlan {
  /** the proxy namespace: edge uplinks on one side, one veth to the cloud on the other */
  ns: string;
  /** squid's listen address (on the proxy's lo); the only address an edge can reach */
  address: string;
  port: number;
  /** the proxy end / cloud end of the proxy↔cloud veth (a /30) */
  cloudLinkProxy: string;
  cloudLinkCloud: string;
}

/** The well-known ports of the server's listeners (same as a cluster install). */
export const SERVER_PORTS = Object.freeze({
  agent: 10262, // mTLS agent listener, on the load balancer address
  https: 10263, // HTTPS channel (kubelet 10250, https-proxy-ports)
  http: 10264, // HTTP channel (kubelet 10255, dnat-ports-pair, http-proxy-ports)
  meta: 10265, // /readyz, /debug/tunnels (loopback of the cloud)
  connect: 8131, // CONNECT frontend (konnectivity style)
} as const);

export interface EdgePlan {
  /** node name, `edge-<n>` (1-based) */
  name: string;
  /** network namespace (netns mode) */
  ns: string;
  /** the node IP the kubelet and exporter listen on; unreachable from the cloud without the tunnel */
  ip: string;
  /** cloud end / edge end of the uplink veth (netns mode); with a proxy its far end is in the proxy namespace */
  uplinkCloud: string;
  uplinkEdge: string;
  /** veth interface name in the cloud namespace (with a proxy: in the proxy namespace) */
  cloudDev: string;
}

export interface TopologyPlan {
  mode: TestbedMode;
  /** the cloud namespace (netns mode); undefined in loopback mode */
  cloudNs: string | undefined;
  /** the address agents dial (the "load balancer") */
  lbAddress: string;
  /** the address of the server's 10263/10264/8131 listeners, the DNAT target */
  serverAddress: string;
  /** the prefix every edge node IP lies in; the cloud has no usable route to it */
  edgeNet: string;
  edges: EdgePlan[];
  /** netns with egressProxy: the proxy namespace between the edges and the cloud */
  proxy?: ProxyPlan;
  /** netns with weakLink: the wire namespace between the edges and the cloud */
  wire?: WirePlan;
}

export const MAX_EDGES = 50;

/**
 * Addresses and names for one testbed. `id` (`<pid>-<hex>`) keeps parallel runs apart: it names the
 * namespaces (the pid lets a later run sweep what a killed one left), and in loopback mode its hex part
 * picks the block `127.77.<n>.0/24`, so two testbeds hardly ever share an address.
 */
export function planTopology(mode: TestbedMode, edges: number, id: string, proxy = false, wire = false): TopologyPlan {
  if (!Number.isInteger(edges) || edges < 1 || edges > MAX_EDGES) {
    throw new RangeError(`testbed: edges must be an integer 1..${MAX_EDGES}, got ${edges}`);
  }
  if (proxy && mode !== 'netns') throw new RangeError('testbed: egressProxy needs netns mode (a proxy namespace between edges and cloud)');
  if (wire && mode !== 'netns') throw new RangeError('testbed: weakLink needs netns mode (a wire namespace between edges and cloud)');
  if (wire && proxy) throw new RangeError('testbed: weakLink and egressProxy cannot be combined (both put a namespace between edges and cloud)');
  const list: EdgePlan[] = [];
  const block = `127.77.${(parseInt(id.split('-').at(-1)!.slice(0, 4), 16) % 250) + 1}`;
  for (let i = 1; i <= edges; i++) {
    list.push(
      mode === 'netns'
        ? { name: `edge-${i}`, ns: `et-tb-${id}-e${i}`, ip: `10.251.${i}.2`, uplinkCloud: `10.250.${i}.1`, uplinkEdge: `10.250.${i}.2`, cloudDev: `edge${i}` }
        : { name: `edge-${i}`, ns: '', ip: `${block}.${10 + i}`, uplinkCloud: '', uplinkEdge: '', cloudDev: '' },
    );
  }
  const proxyPlan: ProxyPlan = { ns: `et-tb-${id}-p`, address: '10.249.1.1', port: PROXY_PORT, cloudLinkProxy: '10.249.0.2', cloudLinkCloud: '10.249.0.1' };
  const wirePlan: WirePlan = { ns: `et-tb-${id}-w`, cloudLinkWire: '10.248.0.2', cloudLinkCloud: '10.248.0.1', tunEdge: 'wl-edge', tunCloud: 'wl-cloud' };
  return mode === 'netns'
    ? {
        mode,
        cloudNs: `et-tb-${id}-c`,
        lbAddress: '10.250.0.1',
        serverAddress: '10.250.0.2',
        edgeNet: '10.251.0.0/16',
        edges: list,
        ...(proxy ? { proxy: proxyPlan } : {}),
        ...(wire ? { wire: wirePlan } : {}),
      }
    : { mode, cloudNs: undefined, lbAddress: `${block}.1`, serverAddress: `${block}.1`, edgeNet: `${block}.0/24`, edges: list };
}

/** The namespace prefix of every testbed (for `ip netns list` checks). */
export const NS_PREFIX = 'et-tb-';
