// Command line and environment → ServerConfig. Pure: no file is read here (TLS material and the port
// config file are read by start()). Every flag has an environment fallback: `--agent-addr` ↔
// `EDGE_TUNNEL_AGENT_ADDR`. Flags win over the environment, the environment over defaults.
import { isIP } from 'node:net';
import { formatAddr, isWildcard, parseAddr } from './addr.js';
import type { ListenAddr } from './addr.js';
import { ServerError, ServerErrorCode } from './errors.js';
import type { Replica } from './agents/replicas.js';
import { iptablesTargets } from './capture/targets.js';
import { FRAMING_FLAGS, framingLimitsProblem, type FramingLimits } from '@edge-tunnel/framing';
import { DEFAULT_MAX_AGENT_HANDSHAKE_QUEUE, DEFAULT_MAX_AGENT_HANDSHAKES } from './agents/handshake-pacer.js';
import { DEFAULT_CLIENT_HELLO_TIMEOUT_MS, DEFAULT_MAX_PENDING_CONNECTIONS } from './accept/tls-front.js';
import { DEFAULT_MAX_STREAMS_PER_NODE, DEFAULT_RELAY_IDLE_TIMEOUT_MS } from './proxy/context.js';
import { DEFAULT_PROXY_LIMITS } from './proxy/listener.js';
import { DEFAULT_TOKEN_AUTH } from './proxy/token-auth.js';
import { DEFAULT_UPSTREAM_IDLE_MS, DEFAULT_UPSTREAM_POOL_SIZE } from './proxy/upstream-pool.js';
import { DEFAULT_DEBUG_TUNNELS_LIMIT } from './debug-tunnels.js';
import { DEFAULT_CALLER_ALLOW, parseCallerAllow, type CallerRule } from './proxy/caller-auth.js';
import type { ListenerName } from './proxy/context.js';
import { DEFAULT_STREAM_QUOTAS } from './proxy/stream-quota.js';

/** Agent sessions' framing limits (--receive-budget …) are the FramingLimits fields. */
export interface ServerConfig extends FramingLimits {
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
  /** default: on when kubeletCa is given */
  verifyKubelet: boolean;
  /** port config file (YAML or JSON, ConfigMap keys), watched for changes */
  configFile?: string;
  /** stat fallback period of the config file watch */
  configPollMs: number;
  compression: boolean;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
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
  /** sent to agents in the hello; also the leader-election identity in cluster mode */
  serverId: string;
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
  /** how callers' traffic reaches the proxies: iptables DNAT, cluster DNS, or not captured */
  capture: CaptureMode;
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
  /** $POD_IP (downward API): the iptables target when a proxy listens on every address */
  podIp?: string;
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
  /** proxies: an upgraded or CONNECT relay with no byte either way for this long is closed */
  relayIdleTimeoutMs: number;
  /** HTTPS proxy: idle keep-alive connections to each node's kubelet kept per port (0 = a TLS handshake per request) */
  upstreamPoolSize: number;
  /** HTTPS proxy: an idle pooled kubelet connection is closed after this long */
  upstreamIdleTimeoutMs: number;
  /** /metrics: per-node series (label node), one per attached node; off by default (10 000 nodes ≈ 680 KB a scrape) */
  metricsPerNode: boolean;
  /** /debug/tunnels: nodes per page when the request names no ?limit= */
  debugTunnelsLimit: number;
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

type Kind = 'addr' | 'string' | 'bool' | 'ms' | 'ms0' | 'count' | 'int' | 'level' | 'list' | 'capture' | 'target' | 'ipv4s' | 'hostport' | 'peers' | 'names' | 'callers' | 'shares';

/** Kinds whose flag may be given more than once (values accumulate). */
const REPEATABLE: ReadonlySet<Kind> = new Set(['list', 'ipv4s', 'peers', 'names', 'callers', 'shares']);

interface FlagSpec {
  flag: string;
  key: keyof ServerConfig;
  kind: Kind;
  default?: string;
  help: string;
  /** kind 'int': the allowed range */
  min?: number;
  max?: number;
}

/** Edge Node label selectors of managed edge clusters and OpenYurt (same as @edge-tunnel/kube's). */
export const DEFAULT_EDGE_SELECTORS: readonly string[] = ['alibabacloud.com/is-edge-worker=true', 'openyurt.io/is-edge-worker=true'];

/** Every flag, its config key, its default and a one-line description (also the --help text). */
export const FLAGS: readonly FlagSpec[] = [
  { flag: 'agent-addr', key: 'agentAddr', kind: 'addr', default: ':10262', help: 'agent listener (mTLS)' },
  { flag: 'https-addr', key: 'httpsAddr', kind: 'addr', default: ':10263', help: 'HTTPS proxy listener' },
  { flag: 'http-addr', key: 'httpAddr', kind: 'addr', default: ':10264', help: 'HTTP proxy listener' },
  { flag: 'meta-addr', key: 'metaAddr', kind: 'addr', default: '127.0.0.1:10265', help: 'health, metrics and debug listener' },
  { flag: 'connect-addr', key: 'connectAddr', kind: 'addr', help: 'HTTP CONNECT frontend (off unless set; plain TCP only on loopback, see README)' },
  { flag: 'agent-ws-addr', key: 'agentWsAddr', kind: 'addr', help: 'agent sessions over WebSocket, wss://…/edge-tunnel/v1/session (off unless set)' },
  { flag: 'connect-require-cert', key: 'connectRequireCert', kind: 'bool', default: 'false', help: 'CONNECT on --connect-addr over TLS (--cert/--key), caller certificate from --caller-ca matching --caller-allow required' },
  { flag: 'connect-uds', key: 'connectUds', kind: 'string', help: 'CONNECT frontend on this Unix socket too (mode 0660; kube-apiserver egress transport.uds.udsName)' },
  { flag: 'cert', key: 'cert', kind: 'string', help: 'serving certificate (PEM file), required' },
  { flag: 'key', key: 'key', kind: 'string', help: 'serving key (PEM file), required' },
  { flag: 'agent-ca', key: 'agentCa', kind: 'string', help: 'CA of agent certificates (PEM file), required' },
  { flag: 'caller-ca', key: 'callerCa', kind: 'string', help: 'CA of caller certificates on the HTTPS listener' },
  { flag: 'require-caller-cert', key: 'requireCallerCert', kind: 'bool', default: 'true', help: 'HTTPS callers must present a certificate from --caller-ca' },
  { flag: 'caller-allow', key: 'callerAllow', kind: 'callers', default: DEFAULT_CALLER_ALLOW.join(';'), help: 'HTTPS callers allowed by certificate: name:<CN> or group:<O>, repeatable (env: ;-separated); edge node identities are always refused' },
  { flag: 'token-cache-ttl-ms', key: 'tokenCacheTtlMs', kind: 'ms0', default: String(DEFAULT_TOKEN_AUTH.tokenTtlMs), help: 'cluster mode: cache time of TokenReview answers for bearer-token callers, either outcome (kubelet\'s default; 0: no cache)' },
  { flag: 'authz-cache-ttl-ms', key: 'authzCacheTtlMs', kind: 'ms0', default: String(DEFAULT_TOKEN_AUTH.authorizedTtlMs), help: 'cluster mode: cache time of allowed SubjectAccessReviews (0: no cache)' },
  { flag: 'authz-negative-cache-ttl-ms', key: 'authzNegativeCacheTtlMs', kind: 'ms0', default: String(DEFAULT_TOKEN_AUTH.unauthorizedTtlMs), help: 'cluster mode: cache time of denied SubjectAccessReviews (0: no cache)' },
  { flag: 'auth-cache-entries', key: 'authCacheEntries', kind: 'count', default: String(DEFAULT_TOKEN_AUTH.maxEntries), help: 'cluster mode: entries per token / authorization cache (oldest dropped first)' },
  { flag: 'kubelet-client-cert', key: 'kubeletClientCert', kind: 'string', help: 'certificate presented to kubelets' },
  { flag: 'kubelet-client-key', key: 'kubeletClientKey', kind: 'string', help: 'key of --kubelet-client-cert' },
  { flag: 'kubelet-ca', key: 'kubeletCa', kind: 'string', help: 'CA of kubelet serving certificates' },
  { flag: 'verify-kubelet', key: 'verifyKubelet', kind: 'bool', help: 'verify kubelet serving certificates with --kubelet-ca (default: true when --kubelet-ca is set)' },
  { flag: 'config', key: 'configFile', kind: 'string', help: 'port config file (YAML/JSON, ConfigMap keys), applied live' },
  { flag: 'config-poll-ms', key: 'configPollMs', kind: 'ms', default: '2000', help: 'stat fallback period of the config file watch' },
  { flag: 'compression', key: 'compression', kind: 'bool', default: 'true', help: 'offer LZ4 compression to agents' },
  { flag: 'keepalive-interval-ms', key: 'keepaliveIntervalMs', kind: 'ms', default: '10000', help: 'PING cadence on agent sessions' },
  { flag: 'keepalive-timeout-ms', key: 'keepaliveTimeoutMs', kind: 'ms', default: '30000', help: 'silent agent declared dead after this' },
  { flag: 'hello-timeout-ms', key: 'helloTimeoutMs', kind: 'ms', default: '10000', help: 'agent must say hello within this' },
  { flag: 'open-timeout-ms', key: 'openTimeoutMs', kind: 'ms', default: '10000', help: 'agent must answer a stream OPEN within this (else 504)' },
  ...FRAMING_FLAGS.map((f): FlagSpec => ({ ...f, kind: 'int', default: String(f.default), help: `agent sessions: ${f.help} (${f.min}–${f.max})` })),
  { flag: 'max-agent-handshakes', key: 'maxAgentHandshakes', kind: 'count', default: String(DEFAULT_MAX_AGENT_HANDSHAKES), help: 'agent port: TLS handshakes in flight; more connections wait (paused, never refused) for a slot' },
  { flag: 'max-agent-handshake-queue', key: 'maxAgentHandshakeQueue', kind: 'count', default: String(DEFAULT_MAX_AGENT_HANDSHAKE_QUEUE), help: 'agent port: connections waiting for a handshake slot; more are refused' },
  { flag: 'client-hello-timeout-ms', key: 'clientHelloTimeoutMs', kind: 'ms', default: String(DEFAULT_CLIENT_HELLO_TIMEOUT_MS), help: 'agent and HTTPS ports: a connection whose ClientHello is not in within this is closed' },
  { flag: 'max-pending-connections', key: 'maxPendingConnections', kind: 'count', default: String(DEFAULT_MAX_PENDING_CONNECTIONS), help: 'agent and HTTPS ports: connections waiting for their ClientHello; beyond, the oldest is closed' },
  { flag: 'agent-max-pending-per-source', key: 'agentMaxPendingPerSource', kind: 'int', min: 0, max: 1_000_000, default: '0', help: 'agent port: connections per source IP not yet through their handshake (0: no cap; see README before setting)' },
  { flag: 'https-max-pending-per-source', key: 'httpsMaxPendingPerSource', kind: 'int', min: 0, max: 1_000_000, default: '256', help: 'HTTPS proxy: connections per source IP not yet through their handshake (0: no cap)' },
  { flag: 'https-handshake-timeout-ms', key: 'httpsHandshakeTimeoutMs', kind: 'ms', default: '10000', help: 'HTTPS proxy: the TLS handshake must end within this' },
  { flag: 'drain-timeout-ms', key: 'drainTimeoutMs', kind: 'ms', default: '5000', help: 'drain deadline for replaced sessions and shutdown' },
  { flag: 'log-level', key: 'logLevel', kind: 'level', default: 'info', help: 'trace, debug, info, warn, error, fatal' },
  { flag: 'server-id', key: 'serverId', kind: 'string', help: 'id sent to agents and leader identity (default $HOSTNAME)' },
  { flag: 'kubernetes', key: 'kubernetes', kind: 'bool', default: 'false', help: 'cluster mode with the in-cluster service account' },
  { flag: 'kubeconfig', key: 'kubeconfig', kind: 'string', help: 'cluster mode with this kubeconfig file' },
  { flag: 'namespace', key: 'namespace', kind: 'string', default: 'kube-system', help: 'namespace of the ConfigMaps, Secrets and Lease' },
  { flag: 'edge-node-selector', key: 'edgeNodeSelectors', kind: 'list', default: DEFAULT_EDGE_SELECTORS.join(';'), help: 'label selector of edge Nodes, repeatable (env: ;-separated)' },
  { flag: 'port-configmap', key: 'portConfigMap', kind: 'string', default: 'edge-tunnel-server-cfg', help: 'ConfigMap of the port config, applied live' },
  { flag: 'capture', key: 'capture', kind: 'capture', help: 'iptables, dns or none (default dns in cluster mode, none standalone; dns needs cluster mode)' },
  { flag: 'dns-configmap', key: 'dnsConfigMap', kind: 'string', default: 'edge-tunnel-nodes', help: 'hosts ConfigMap written in dns capture mode' },
  { flag: 'internal-service', key: 'internalService', kind: 'string', default: 'edge-tunnel-server-internal', help: 'ClusterIP Service the dns hosts point at' },
  { flag: 'cluster-domain', key: 'clusterDomain', kind: 'string', default: 'cluster.local', help: 'dns capture: node names inside this domain (or of the form <svc>.<namespace>[.svc]) are not published, so no Node can shadow a cluster name' },
  { flag: 'replica-service', key: 'replicaService', kind: 'string', default: 'edge-tunnel-server', help: 'Service agents dial; its endpoints (EndpointSlices) are the replicas' },
  { flag: 'lease-name', key: 'leaseName', kind: 'string', default: 'edge-tunnel-server', help: 'Lease of leader election (dns capture writer)' },
  { flag: 'ca-secret', key: 'caSecret', kind: 'string', default: 'edge-tunnel-ca', help: 'Secret of the agent CA (created when absent)' },
  { flag: 'bootstrap-token-secret', key: 'bootstrapTokenSecret', kind: 'string', default: 'edge-tunnel-bootstrap', help: 'Secret of the agent bootstrap tokens' },
  { flag: 'enrollments-configmap', key: 'enrollmentsConfigMap', kind: 'string', default: 'edge-tunnel-enrollments', help: 'ConfigMap recording the certificate each node was issued (a token cannot re-enroll a node that holds one)' },
  { flag: 'iptables-https-target', key: 'iptablesHttpsTarget', kind: 'target', help: 'DNAT target ip:port of the HTTPS channel (default the HTTPS listener; a wildcard one: $POD_IP)' },
  { flag: 'iptables-http-target', key: 'iptablesHttpTarget', kind: 'target', help: 'DNAT target ip:port of the HTTP channel (default the HTTP listener)' },
  { flag: 'edge-node-ip', key: 'edgeNodeIps', kind: 'ipv4s', default: '', help: 'standalone iptables capture: an edge node IPv4 to capture besides those of attached agents, repeatable (env: ;-separated)' },
  { flag: 'iptables-resync-ms', key: 'iptablesResyncMs', kind: 'ms', default: '60000', help: 'iptables capture: re-apply period that repairs deleted rules' },
  { flag: 'iptables-other-ports', key: 'iptablesOtherPorts', kind: 'bool', default: 'true', help: 'iptables capture: DNAT every other TCP port of an edge IP to the HTTP listener, so callers get 403 PORT_NOT_CONFIGURED at once instead of a hang' },
  { flag: 'pod-cache-ttl-ms', key: 'podCacheTtlMs', kind: 'ms', default: '30000', help: 'cache time of pod → node lookups' },
  { flag: 'advertise-addr', key: 'advertiseAddr', kind: 'hostport', help: 'host:port agents dial to reach this replica directly (default: --agent-addr unless a wildcard)' },
  { flag: 'peer-addr', key: 'peerAddrs', kind: 'peers', default: '', help: 'standalone replica list, host:port or id=host:port, repeatable (env: ;-separated)' },
  { flag: 'ready-grace-ms', key: 'readyGraceMs', kind: 'ms', default: '30000', help: '/readyz waits at most this long since start for expected agents' },
  { flag: 'expected-nodes', key: 'expectedNodes', kind: 'names', help: 'standalone: node names whose agents /readyz waits for, repeatable or comma-separated' },
  { flag: 'shutdown-delay-ms', key: 'shutdownDelayMs', kind: 'ms0', default: '0', help: 'on SIGTERM: unready at once, keep serving this long, then drain' },
  { flag: 'max-streams-per-node', key: 'maxStreamsPerNode', kind: 'count', default: String(DEFAULT_MAX_STREAMS_PER_NODE), help: 'proxies: concurrent streams to one node; the next gets 503 STREAM_LIMIT' },
  { flag: 'unauthenticated-stream-share', key: 'unauthenticatedStreamShare', kind: 'int', min: 0, max: 100, default: String(DEFAULT_STREAM_QUOTAS.unauthenticatedShare), help: 'proxies: % of --max-streams-per-node callers without a credential may hold to one node together (the rest is reserved; else 429 STREAM_QUOTA)' },
  { flag: 'source-stream-share', key: 'sourceStreamShare', kind: 'int', min: 1, max: 100, default: String(DEFAULT_STREAM_QUOTAS.sourceShare), help: 'proxies: % of --max-streams-per-node one unauthenticated source address may hold to one node' },
  { flag: 'caller-stream-share', key: 'callerStreamShare', kind: 'int', min: 1, max: 100, default: String(DEFAULT_STREAM_QUOTAS.callerShare), help: 'proxies: % of --max-streams-per-node one certificate identity may hold to one node' },
  { flag: 'listener-stream-share', key: 'listenerStreamShare', kind: 'shares', default: '', help: 'proxies: <listener>=<percent> (https, http, connect) of --max-streams-per-node that listener may hold to one node, repeatable (default 100 each)' },
  { flag: 'headers-timeout-ms', key: 'headersTimeoutMs', kind: 'ms', default: String(DEFAULT_PROXY_LIMITS.headersTimeoutMs), help: 'proxies: a request head must arrive within this (else 408)' },
  { flag: 'request-timeout-ms', key: 'requestTimeoutMs', kind: 'ms0', default: String(DEFAULT_PROXY_LIMITS.requestTimeoutMs), help: 'proxies: a whole request must arrive within this (else 408; 0 = no limit)' },
  { flag: 'max-header-bytes', key: 'maxHeaderBytes', kind: 'count', default: String(DEFAULT_PROXY_LIMITS.maxHeaderBytes), help: 'proxies: largest request head in bytes (else 431)' },
  { flag: 'upstream-pool-size', key: 'upstreamPoolSize', kind: 'int', min: 0, max: 1024, default: String(DEFAULT_UPSTREAM_POOL_SIZE), help: 'HTTPS proxy: idle kubelet connections kept per node and port (0 = a stream and TLS handshake per request)' },
  { flag: 'upstream-idle-timeout-ms', key: 'upstreamIdleTimeoutMs', kind: 'ms', default: String(DEFAULT_UPSTREAM_IDLE_MS), help: 'HTTPS proxy: close a pooled kubelet connection idle this long (the kubelet\'s Keep-Alive timeout= wins if shorter)' },
  { flag: 'metrics-per-node', key: 'metricsPerNode', kind: 'bool', default: 'false', help: '/metrics: per-node series (label node, one per attached node)' },
  { flag: 'debug-tunnels-limit', key: 'debugTunnelsLimit', kind: 'count', default: String(DEFAULT_DEBUG_TUNNELS_LIMIT), help: '/debug/tunnels: nodes per page without ?limit= (?node=, ?after= and ?limit= page through)' },
  { flag: 'relay-idle-timeout-ms', key: 'relayIdleTimeoutMs', kind: 'ms', default: String(DEFAULT_RELAY_IDLE_TIMEOUT_MS), help: 'proxies: close an upgraded or CONNECT relay silent both ways this long' },
];


/** One selector term list as kubectl -l takes it: `k=v`, `k!=v`, `k in (a,b)`, `k`, `!k`, comma-joined. */
const LABEL_SELECTOR = /^[A-Za-z0-9!][A-Za-z0-9_./=!,() -]*$/;

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** `agent-addr` → `EDGE_TUNNEL_AGENT_ADDR` */
export function envName(flag: string): string {
  return `EDGE_TUNNEL_${flag.toUpperCase().replaceAll('-', '_')}`;
}

export type ParseResult = { help: true; usage: string } | { help: false; config: ServerConfig };

/** Parses argv (without node and script) with env fallbacks; throws ERR_SERVER_INVALID_CONFIG. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParseResult {
  const given = readArgv(argv);
  if (given.has('help')) return { help: true, usage: usage() };
  const out: Record<string, unknown> = {};
  for (const spec of FLAGS) {
    const values = given.get(spec.flag);
    const raw = values !== undefined ? values.join(LIST_SEPARATOR) : env[envName(spec.flag)] ?? spec.default;
    if (raw !== undefined && raw !== '') out[spec.key] = convert(spec, raw);
  }
  out['serverId'] ??= env['HOSTNAME'] || 'edge-tunnel-server';
  if (env['POD_IP']) out['podIp'] = env['POD_IP'];
  return { help: false, config: checkConfig(out as unknown as ServerConfig) };
}

/** Joins the values of a repeated flag, and separates list values in env variables. */
const LIST_SEPARATOR = ';';

function readArgv(argv: readonly string[]): Map<string, string[]> {
  const given = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      given.set('help', ['true']);
      continue;
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    const spec = m ? FLAGS.find((f) => f.flag === m[1]) : undefined;
    if (!m || !spec) throw invalid(`unknown argument ${JSON.stringify(arg)}; see --help`);
    let value = m[2];
    if (value === undefined && spec.kind === 'bool') value = 'true';
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw invalid(`--${spec.flag} needs a value`);
    }
    // a repeatable flag accumulates; any other flag given twice keeps the last value
    given.set(spec.flag, REPEATABLE.has(spec.kind) ? [...(given.get(spec.flag) ?? []), value] : [value]);
  }
  return given;
}

function convert(spec: FlagSpec, raw: string): unknown {
  const what = `--${spec.flag} (env ${envName(spec.flag)})`;
  switch (spec.kind) {
    case 'addr':
      return parseAddr(raw, what);
    case 'bool':
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      throw invalid(`${what} must be true or false, got ${JSON.stringify(raw)}`);
    case 'ms': {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < 1 || n > 86_400_000) throw invalid(`${what} must be a whole number of milliseconds ≥ 1, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'ms0': {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n > 86_400_000) throw invalid(`${what} must be a whole number of milliseconds, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'count': {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < 1 || n > 2 ** 31 - 1) throw invalid(`${what} must be a whole number ≥ 1, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'int': {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < spec.min! || n > spec.max!) throw invalid(`${what} must be a whole number from ${spec.min} to ${spec.max}, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'ipv4s': {
      const ips = raw.split(LIST_SEPARATOR).map((v) => v.trim()).filter((v) => v !== '');
      const bad = ips.find((v) => isIP(v) !== 4);
      if (bad !== undefined) throw invalid(`${what} must be IPv4 addresses (IPv6 cannot be captured), got ${JSON.stringify(bad)}`);
      return [...new Set(ips)];
    }
    case 'hostport':
      return hostPort(raw.trim(), what);
    case 'peers':
      return raw.split(LIST_SEPARATOR).map((v) => v.trim()).filter((v) => v !== '').map((v) => parsePeer(v, what));
    case 'names': {
      const names = raw.split(/[;,]/).map((v) => v.trim()).filter((v) => v !== '');
      const bad = names.find((v) => !DNS_NAME.test(v));
      if (bad !== undefined) throw invalid(`${what} must be node names, got ${JSON.stringify(bad)}`);
      return [...new Set(names)];
    }
    case 'callers':
      try {
        return parseCallerAllow(raw.split(LIST_SEPARATOR));
      } catch (err) {
        throw invalid((err as Error).message);
      }
    case 'shares':
      return parseShares(raw, what);
    case 'list': {
      const items = raw.split(LIST_SEPARATOR).map((v) => v.trim()).filter((v) => v !== '');
      const bad = items.find((v) => !LABEL_SELECTOR.test(v));
      if (bad !== undefined) throw invalid(`${what} must be a label selector such as key=value, got ${JSON.stringify(bad)}`);
      return [...new Set(items)];
    }
    case 'capture':
      if (!Object.hasOwn(CaptureMode, raw)) throw invalid(`${what} must be one of ${Object.keys(CaptureMode).join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    case 'target': {
      const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(raw.trim());
      const port = m ? Number(m[2]) : NaN;
      if (!m || isIP(m[1]!) !== 4 || port < 1 || port > 65535) throw invalid(`${what} must be an IPv4 address and port such as 10.0.0.10:10263, got ${JSON.stringify(raw)}`);
      return { ip: m[1]!, port };
    }
    case 'level':
      if (!LEVELS.has(raw)) throw invalid(`${what} must be one of ${[...LEVELS].join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    default:
      return raw;
  }
}

function checkConfig(c: ServerConfig): ServerConfig {
  for (const key of ['cert', 'key', 'agentCa'] as const) {
    if (!c[key]) throw invalid(`--${flagOf(key)} is required (env ${envName(flagOf(key))})`);
  }
  if (c.requireCallerCert && !c.callerCa) {
    throw invalid('--caller-ca is required while --require-caller-cert is true (set --require-caller-cert=false to accept callers without a certificate)');
  }
  c.callerAllow ??= [];
  c.listenerStreamShare ??= {};
  if (c.connectRequireCert && (!c.connectAddr || !c.callerCa)) {
    throw invalid('--connect-require-cert needs --connect-addr and --caller-ca (the CA of the caller certificates it accepts)');
  }
  if ((c.kubeletClientCert === undefined) !== (c.kubeletClientKey === undefined)) {
    throw invalid('--kubelet-client-cert and --kubelet-client-key go together');
  }
  if (c.verifyKubelet && !c.kubeletCa) throw invalid('--verify-kubelet needs --kubelet-ca');
  c.verifyKubelet ??= c.kubeletCa !== undefined;
  if (c.keepaliveTimeoutMs < c.keepaliveIntervalMs) {
    throw invalid('--keepalive-timeout-ms must not be shorter than --keepalive-interval-ms');
  }
  const framing = framingLimitsProblem(c);
  if (framing) throw invalid(framing.message);
  if (c.requestTimeoutMs > 0 && c.headersTimeoutMs > c.requestTimeoutMs) {
    throw invalid('--headers-timeout-ms must not be longer than --request-timeout-ms (the head is part of the request)');
  }
  return checkCaptureConfig(checkClusterConfig(c));
}

/** Cluster-mode flags: --kubeconfig implies --kubernetes; capture defaults to dns in a cluster. */
function checkClusterConfig(c: ServerConfig): ServerConfig {
  c.peerAddrs ??= [];
  if (c.peerAddrs.length > 0 && c.advertiseAddr === undefined && isWildcard(c.agentAddr.host)) {
    throw invalid('--peer-addr needs --advertise-addr (or an --agent-addr with a specific host): agents must learn an address that reaches this replica');
  }
  if (c.kubeconfig !== undefined) c.kubernetes = true;
  c.capture ??= c.kubernetes ? CaptureMode.dns : CaptureMode.none;
  if (!c.kubernetes) return c;
  if (c.configFile !== undefined) {
    throw invalid(`--config cannot be used in cluster mode: the port config comes from ConfigMap ${c.namespace}/${c.portConfigMap} (--port-configmap)`);
  }
  if (c.edgeNodeSelectors.length === 0) throw invalid('--edge-node-selector needs at least one label selector in cluster mode');
  for (const key of ['namespace', 'portConfigMap', 'dnsConfigMap', 'internalService', 'replicaService', 'leaseName', 'caSecret', 'bootstrapTokenSecret', 'enrollmentsConfigMap'] as const) {
    if (!DNS_NAME.test(c[key])) throw invalid(`--${flagOf(key)} must be a Kubernetes object name (lower-case letters, digits, '-', '.'), got ${JSON.stringify(c[key])}`);
  }
  return c;
}

/** Standalone: iptables capture only (edge IPs from --edge-node-ip and agents); dns needs the API. */
function checkCaptureConfig(c: ServerConfig): ServerConfig {
  c.edgeNodeIps ??= [];
  if (c.capture === CaptureMode.dns && !c.kubernetes) {
    throw invalid('--capture=dns needs cluster mode (--kubernetes or --kubeconfig): the hosts ConfigMap is served by the cluster DNS; standalone, use --capture=iptables');
  }
  if (c.edgeNodeIps.length > 0 && (c.kubernetes || c.capture !== CaptureMode.iptables)) {
    throw invalid(c.kubernetes
      ? '--edge-node-ip is for standalone mode: in cluster mode the edge node addresses come from the Node objects'
      : '--edge-node-ip needs --capture=iptables');
  }
  // a wildcard proxy listener without a DNAT target fails here, before anything binds
  if (c.capture === CaptureMode.iptables) iptablesTargets(c, { https: c.httpsAddr, http: c.httpAddr });
  return c;
}

const LISTENERS: readonly ListenerName[] = ['https', 'http', 'connect'];

/** `http=25,connect=25`: a percentage per listener. */
function parseShares(raw: string, what: string): Partial<Record<ListenerName, number>> {
  const out: Partial<Record<ListenerName, number>> = {};
  for (const item of raw.split(/[;,]/).map((v) => v.trim()).filter((v) => v !== '')) {
    const m = /^(\w+)=(\d{1,3})$/.exec(item);
    if (!m || !LISTENERS.includes(m[1] as ListenerName) || Number(m[2]) < 1 || Number(m[2]) > 100) {
      throw invalid(`${what} entries are <listener>=<percent> with listener ${LISTENERS.join(', ')} and percent 1 to 100, got ${JSON.stringify(item)}`);
    }
    out[m[1] as ListenerName] = Number(m[2]);
  }
  return out;
}

/** `host:port` with a host and a non-zero port (an address to dial, not to listen on). */
function hostPort(text: string, what: string): string {
  const a = parseAddr(text, what);
  if (a.host === '' || a.port === 0) throw invalid(`${what} must be a dialable host:port (no wildcard host, no port 0), got ${JSON.stringify(text)}`);
  return formatAddr(a);
}

/** `id=host:port` or `host:port` (then the address is the id). */
function parsePeer(text: string, what: string): Replica {
  const eq = text.indexOf('=');
  const addr = hostPort(eq < 0 ? text : text.slice(eq + 1), what);
  const id = eq < 0 ? addr : text.slice(0, eq).trim();
  if (id === '') throw invalid(`${what}: empty replica id in ${JSON.stringify(text)}`);
  return { id, addr };
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function flagOf(key: keyof ServerConfig): string {
  return FLAGS.find((f) => f.key === key)!.flag;
}

function invalid(message: string): ServerError {
  return new ServerError(ServerErrorCode.INVALID_CONFIG, message);
}

/** The --help text: one line per flag with its env variable and default. */
export function usage(): string {
  const lines = FLAGS.map((f) => {
    const left = `  --${f.flag}${f.kind === 'bool' ? '[=bool]' : ' <value>'}${f.kind === 'list' ? ' …' : ''}`;
    const def = f.default ? ` (default ${f.default})` : '';
    return `${left.padEnd(36)}${f.help}${def}\n${''.padEnd(36)}env ${envName(f.flag)}`;
  });
  return ['usage: edge-tunnel-server [flags]', '', 'Certificates, keys and CAs are PEM file paths.', '', ...lines, '  --help', ''].join('\n');
}
