// Ports, channels and ConfigMap keys shared by the routing logic.

/** Well-known ports of the tunnel and of the kubelet. */
export const Ports = {
  /** kubelet HTTPS API: built in, always routed through the HTTPS channel */
  KUBELET_HTTPS: 10250,
  /** kubelet read-only HTTP API: built in, always routed through the HTTP channel */
  KUBELET_HTTP: 10255,
  /** server: agents dial in here (mTLS) */
  SERVER_AGENT: 10262,
  /** server: HTTPS channel listener */
  SERVER_HTTPS: 10263,
  /** server: HTTP channel listener (the only valid right-hand side of `dnat-ports-pair`) */
  SERVER_HTTP: 10264,
  /** server: meta (/healthz, /readyz, /metrics, /debug) */
  SERVER_META: 10265,
  /** agent: meta port on the edge node */
  AGENT_META: 10266,
} as const;
export type Ports = (typeof Ports)[keyof typeof Ports];

/** The two proxy channels a node port can travel through. */
export const Channel = {
  /** plain HTTP, server listener :10264 */
  HTTP: 'http',
  /** HTTPS (TLS terminated and re-originated), server listener :10263 */
  HTTPS: 'https',
} as const;
export type Channel = (typeof Channel)[keyof typeof Channel];

/** The server listener port of each channel. */
export const CHANNEL_LISTENER_PORT: Readonly<Record<Channel, number>> = Object.freeze({
  http: Ports.SERVER_HTTP,
  https: Ports.SERVER_HTTPS,
});

/** Ports routed without configuration. */
export const BUILT_IN_PORTS: ReadonlyMap<number, Channel> = new Map<number, Channel>([
  [Ports.KUBELET_HTTPS, Channel.HTTPS],
  [Ports.KUBELET_HTTP, Channel.HTTP],
]);

/** Ports of the tunnel itself, which can never be node ports. */
export const TUNNEL_PORTS: ReadonlySet<number> = new Set<number>([
  Ports.SERVER_AGENT,
  Ports.SERVER_HTTPS,
  Ports.SERVER_HTTP,
  Ports.SERVER_META,
  Ports.AGENT_META,
]);

/** The ConfigMap holding the port configuration (standalone mode: a file with the same keys). */
export const CONFIG_MAP = 'kube-system/edge-tunnel-server-cfg';

/** Keys of the ConfigMap, in the order they are applied (earlier keys win conflicts). */
export const ConfigKey = {
  /** `port=10264` pairs: node port through the HTTP channel */
  DNAT_PORTS_PAIR: 'dnat-ports-pair',
  /** ports through the HTTP channel */
  HTTP_PROXY_PORTS: 'http-proxy-ports',
  /** ports through the HTTPS channel */
  HTTPS_PROXY_PORTS: 'https-proxy-ports',
  /** ports the agent dials on 127.0.0.1 instead of the node IP */
  LOCALHOST_PROXY_PORTS: 'localhost-proxy-ports',
} as const;
export type ConfigKey = (typeof ConfigKey)[keyof typeof ConfigKey];

/** Every known key, in application order. */
export const CONFIG_KEYS: readonly ConfigKey[] = Object.freeze(Object.values(ConfigKey));

/** True when `port` is an integer in 1..65535. */
export function isPortNumber(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}
