// What the server runs with: ServerFlags (one field per flag, the table in config-flags.ts fills
// them), ServerConfig (the flags with the values config.ts derives), capture modes, iptables targets.
import type { FramingLimits } from '@edge-tunnel/framing';
import type { ListenAddr } from './addr.js';
import type { Replica } from './agents/replicas.js';
import type { CallerRule } from './proxy/caller-auth.js';
import type { ListenerName } from './proxy/context.js';

/** One field per flag; agent sessions' framing limits (--receive-budget …) are the FramingLimits fields. */
export interface ServerFlags extends FramingLimits {
  /** agents dial in here (mTLS, client certificate required) */
  agentAddr: ListenAddr;
  /** HTTPS proxy (kubelet 10250 and https-proxy-ports) */
  httpsAddr: ListenAddr;
  /** HTTP proxy (10255, dnat-ports-pair, http-proxy-ports) */
  httpAddr: ListenAddr;
  /** /healthz /readyz /metrics /debug/* */
  metaAddr: ListenAddr;
  /** optional HTTP CONNECT frontend (konnectivity style) */
  connectAddr?: ListenAddr;
  /** agent sessions over WebSocket (HTTPS); off unless set */
  agentWsAddr?: ListenAddr;
  /** the CONNECT frontend on --connect-addr speaks TLS and requires a --caller-ca certificate matching --caller-allow */
  connectRequireCert: boolean;
  /** the CONNECT frontend on a Unix socket too (kube-apiserver EgressSelector transport.uds.udsName) */
  connectUds?: string;
  /** serving certificate and key of the agent and HTTPS listeners: a file path or PEM text */
  cert: string;
  key: string;
  /** CA that signs agent certificates (path or PEM) */
  agentCa: string;
  /** CA that signs caller certificates on the HTTPS listener (path or PEM) */
  callerCa?: string;
  requireCallerCert: boolean;
  /** certificate callers allowed on the HTTPS listener (`name:<CN>` / `group:<O>`); edge node identities never are */
  callerAllow: CallerRule[];
  /** cluster mode, bearer-token callers: TokenReview cache, allowed / denied SubjectAccessReview caches, entries per cache */
  tokenCacheTtlMs: number;
  authzCacheTtlMs: number;
  authzNegativeCacheTtlMs: number;
  authCacheEntries: number;
  /** the identity the server presents to kubelets (path or PEM) */
  kubeletClientCert?: string;
  kubeletClientKey?: string;
  /** CA of the kubelet serving certificates, used with verifyKubelet */
  kubeletCa?: string;
  /** unset: on when kubeletCa is given (ServerConfig.verifyKubelet) */
  verifyKubelet?: boolean;
  /** HTTPS listener: terminate the caller's TLS (and re-originate it) or pass it through to the kubelet */
  httpsMode: HttpsMode;
  /** port config file (YAML or JSON, ConfigMap keys), watched for changes */
  configFile?: string;
  /** stat fallback period of the config file watch */
  configPollMs: number;
  compression: boolean;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  /** a session whose agent connection was lost is kept this long for a resume; 0: resumption off */
  resumeGraceMs: number;
  /** an agent that sends no hello within this time is dropped */
  helloTimeoutMs: number;
  /** a stream the agent neither accepts nor refuses within this time fails with TIMEOUT (504) */
  openTimeoutMs: number;
  /** how long replaced sessions and shutdown wait for open streams */
  drainTimeoutMs: number;
  /** TLS handshakes in flight on the agent port; more connections wait, paused, for a slot */
  maxAgentHandshakes: number;
  /** agent port: connections waiting for a handshake slot; more are refused (queue_full) */
  maxAgentHandshakeQueue: number;
  /** every TLS listener: a complete ClientHello must arrive within this, else the connection closes */
  clientHelloTimeoutMs: number;
  /** every TLS listener: connections waiting for their ClientHello; beyond, the oldest is closed */
  maxPendingConnections: number;
  /** agent port: pending connections per source IP (0: no cap, for load balancers that hide sources) */
  agentMaxPendingPerSource: number;
  /** HTTPS proxy: pending connections per source IP (0: no cap) */
  httpsMaxPendingPerSource: number;
  /** HTTPS proxy: the TLS handshake must end within this */
  httpsHandshakeTimeoutMs: number;
  logLevel: string;
  /** sent to agents in the hello; also the leader-election identity in cluster mode (unset: $HOSTNAME) */
  serverId?: string;
  /** cluster mode: nodes, port config, CA and capture from the Kubernetes API (set by --kubeconfig too) */
  kubernetes: boolean;
  /** kubeconfig file (cluster mode); absent: the pod's in-cluster service account */
  kubeconfig?: string;
  /** namespace of the server's ConfigMaps, Secrets and Lease */
  namespace: string;
  /** label selectors of edge Nodes; a node matching any of them is an edge node */
  edgeNodeSelectors: string[];
  /** the port ConfigMap (cluster mode; the file of --config in standalone mode) */
  portConfigMap: string;
  /** how callers' traffic reaches the proxies: iptables DNAT, cluster DNS, or not captured (unset: by mode) */
  capture?: CaptureMode;
  /** the hosts ConfigMap written in DNS capture mode */
  dnsConfigMap: string;
  /** the ClusterIP Service the DNS hosts entries point at */
  internalService: string;
  /** dns capture: node names equal to or inside it are never published (they would shadow cluster names) */
  clusterDomain: string;
  /** the Service agents dial (through the load balancer): its endpoints are the replicas (cluster mode) */
  replicaService: string;
  /** the Lease of leader election (one replica writes the DNS hosts) */
  leaseName: string;
  /** the Secret holding the CA that signs enrolled agents' certificates */
  caSecret: string;
  /** the Secret holding the agents' bootstrap tokens */
  bootstrapTokenSecret: string;
  /** the ConfigMap where the enroller records each node's certificate (re-enrollment guard) */
  enrollmentsConfigMap: string;
  /** DNAT target of the HTTPS channel (default: the HTTPS listener, 0.0.0.0 → $POD_IP or 127.0.0.1) */
  iptablesHttpsTarget?: IpPort;
  /** DNAT target of the HTTP channel (default: the HTTP listener, likewise) */
  iptablesHttpTarget?: IpPort;
  /** standalone iptables capture: edge node IPs captured besides those agents attach with */
  edgeNodeIps: string[];
  /** iptables capture: period of the drift repair (re-apply) */
  iptablesResyncMs: number;
  /** iptables capture: every other TCP port of an edge IP lands on the HTTP listener (fast 403 PORT_NOT_CONFIGURED) */
  iptablesOtherPorts: boolean;
  /** how long a pod → node lookup is cached */
  podCacheTtlMs: number;
  /** host:port agents dial to reach this replica directly (default: the agent listener unless a wildcard) */
  advertiseAddr?: string;
  /** standalone replica list (`host:port` or `id=host:port`), this replica included or not */
  peerAddrs: Replica[];
  /** after this long since start a replica is ready even if expected agents are missing */
  readyGraceMs: number;
  /** standalone: nodes whose agents must have a session before /readyz turns 200 (within the grace) */
  expectedNodes?: string[];
  /** on shutdown: unready at once, keep serving this long (endpoints propagate), then GOAWAY + drain */
  shutdownDelayMs: number;
  /** proxies: concurrent streams to one node, all listeners together; the next gets 503 STREAM_LIMIT */
  maxStreamsPerNode: number;
  /** % of maxStreamsPerNode that callers without a credential may hold to one node together (the rest is reserved) */
  unauthenticatedStreamShare: number;
  /** % of maxStreamsPerNode one unauthenticated source address may hold to one node */
  sourceStreamShare: number;
  /** % of maxStreamsPerNode one certificate identity may hold to one node */
  callerStreamShare: number;
  /** % of maxStreamsPerNode each listener may hold to one node (absent: 100) */
  listenerStreamShare: Partial<Record<ListenerName, number>>;
  /** proxies: the request head must arrive within this (slowloris), else 408 */
  headersTimeoutMs: number;
  /** proxies: the whole request (head and body) must arrive within this, else 408; 0 = no limit */
  requestTimeoutMs: number;
  /** proxies: largest request head (request line and headers), else 431 */
  maxHeaderBytes: number;
  /** proxies and meta listener: a keep-alive caller connection idle this long between requests is closed */
  callerIdleTimeoutMs: number;
  /** proxies: an upgraded or CONNECT relay with no byte either way for this long is closed */
  relayIdleTimeoutMs: number;
  /** HTTPS and HTTP proxies: idle keep-alive upstream connections kept per node and port (0 = a stream per request) */
  upstreamPoolSize: number;
  /** HTTPS and HTTP proxies: an idle pooled upstream connection is closed after this long */
  upstreamIdleTimeoutMs: number;
  /** /metrics: per-node series (label node), one per attached node; off by default (10 000 nodes ≈ 680 KB a scrape) */
  metricsPerNode: boolean;
  /** /debug/tunnels: nodes per page when the request names no ?limit= */
  debugTunnelsLimit: number;
}

/** Modes of the HTTPS listener (--https-mode). */
export const HttpsMode = {
  /** caller TLS ends at the server; TLS to the kubelet with the server's kubelet-client identity */
  terminate: 'terminate',
  /** the caller's TLS goes end to end to the kubelet, routed by SNI or the original destination */
  passthrough: 'passthrough',
} as const;
export type HttpsMode = (typeof HttpsMode)[keyof typeof HttpsMode];

/** The flags, with what config.ts derives: nothing is left to default downstream. */
export interface ServerConfig extends ServerFlags {
  verifyKubelet: boolean;
  serverId: string;
  capture: CaptureMode;
  /** $POD_IP (downward API): the iptables target when a proxy listens on every address */
  podIp?: string;
}

/** Traffic capture modes. */
export const CaptureMode = {
  /** nat DNAT rules on the server's host: edge node IP:port → the proxy listeners */
  iptables: 'iptables',
  /** edge node names → the internal Service, through a hosts ConfigMap served by CoreDNS */
  dns: 'dns',
  /** callers reach the server explicitly (CONNECT, X-Tunnel-Proxy-Dest) */
  none: 'none',
} as const;
export type CaptureMode = (typeof CaptureMode)[keyof typeof CaptureMode];

/** An IPv4 address and port (iptables DNAT target). */
export interface IpPort {
  ip: string;
  port: number;
}
