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
  /** cloud end / edge end of the uplink veth (netns mode) */
  uplinkCloud: string;
  uplinkEdge: string;
  /** veth interface name in the cloud namespace */
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
}

export const MAX_EDGES = 50;

/**
 * Addresses and names for one testbed. `id` (`<pid>-<hex>`) keeps parallel runs apart: it names the
 * namespaces (the pid lets a later run sweep what a killed one left), and in loopback mode its hex part
 * picks the block `127.77.<n>.0/24`, so two testbeds hardly ever share an address.
 */
export function planTopology(mode: TestbedMode, edges: number, id: string): TopologyPlan {
  if (!Number.isInteger(edges) || edges < 1 || edges > MAX_EDGES) {
    throw new RangeError(`testbed: edges must be an integer 1..${MAX_EDGES}, got ${edges}`);
  }
  const list: EdgePlan[] = [];
  const block = `127.77.${parseInt(id.split('-').at(-1)!.slice(0, 4), 16) % 250 + 1}`;
  for (let i = 1; i <= edges; i++) {
    list.push(mode === 'netns'
      ? { name: `edge-${i}`, ns: `et-tb-${id}-e${i}`, ip: `10.251.${i}.2`,
          uplinkCloud: `10.250.${i}.1`, uplinkEdge: `10.250.${i}.2`, cloudDev: `edge${i}` }
      : { name: `edge-${i}`, ns: '', ip: `${block}.${10 + i}`, uplinkCloud: '', uplinkEdge: '', cloudDev: '' });
  }
  return mode === 'netns'
    ? { mode, cloudNs: `et-tb-${id}-c`, lbAddress: '10.250.0.1', serverAddress: '10.250.0.2', edgeNet: '10.251.0.0/16', edges: list }
    : { mode, cloudNs: undefined, lbAddress: `${block}.1`, serverAddress: `${block}.1`, edgeNet: `${block}.0/24`, edges: list };
}

/** The namespace prefix of every testbed (for `ip netns list` checks). */
export const NS_PREFIX = 'et-tb-';
