// Every flag of edge-tunnel-server: its config key, kind, default and one line of help (the --help
// text and the README's flags table). Parsed by config.ts.
import { FRAMING_FLAGS } from '@edge-tunnel/framing';
import { DEFAULT_MAX_AGENT_HANDSHAKE_QUEUE, DEFAULT_MAX_AGENT_HANDSHAKES } from './agents/handshake-pacer.js';
import { DEFAULT_CLIENT_HELLO_TIMEOUT_MS, DEFAULT_MAX_PENDING_CONNECTIONS } from './accept/tls-front.js';
import { DEFAULT_MAX_STREAMS_PER_NODE, DEFAULT_RELAY_IDLE_TIMEOUT_MS } from './proxy/context.js';
import { DEFAULT_PROXY_LIMITS } from './proxy/listener.js';
import { DEFAULT_TOKEN_AUTH } from './proxy/token-auth.js';
import { DEFAULT_UPSTREAM_IDLE_MS, DEFAULT_UPSTREAM_POOL_SIZE } from './proxy/upstream-pool.js';
import { DEFAULT_DEBUG_TUNNELS_LIMIT } from './debug-tunnels.js';
import { DEFAULT_CALLER_ALLOW } from './proxy/caller-auth.js';
import { DEFAULT_STREAM_QUOTAS } from './proxy/stream-quota.js';
import type { ServerConfig } from './server-config.js';

export type Kind = 'addr' | 'string' | 'bool' | 'ms' | 'ms0' | 'count' | 'int' | 'level' | 'list' | 'capture' | 'target' | 'ipv4s' | 'hostport' | 'peers' | 'names' | 'callers' | 'shares';

/** Kinds whose flag may be given more than once (values accumulate). */
export const REPEATABLE: ReadonlySet<Kind> = new Set(['list', 'ipv4s', 'peers', 'names', 'callers', 'shares']);

export interface FlagSpec {
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
  { flag: 'resume-grace-ms', key: 'resumeGraceMs', kind: 'ms0', default: '60000', help: 'agent sessions: how long a session whose connection was lost waits for its agent to resume it (streams pause, then continue); 0: no resumption (streams end with the connection)' },
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
