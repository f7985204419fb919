// Every flag of edge-tunnel-server, one row each: name, config key, type (its validation), default
// as command-line text, one line of help (the --help text; the README's flag tables are checked
// against it). Parsed by @edge-tunnel/flags in config.ts; libs/flags/README.md says how to add one.
import { FRAMING_FLAGS } from '@edge-tunnel/framing';
import { FlagSet, bool, count, int, ms, oneOf, text, type FlagSpec, type Uncovered } from '@edge-tunnel/flags';
import { DEFAULT_MAX_AGENT_HANDSHAKE_QUEUE, DEFAULT_MAX_AGENT_HANDSHAKES } from './agents/handshake-pacer.js';
import { DEFAULT_CLIENT_HELLO_TIMEOUT_MS, DEFAULT_MAX_PENDING_CONNECTIONS } from './accept/tls-front.js';
import { DEFAULT_MAX_STREAMS_PER_NODE, DEFAULT_RELAY_IDLE_TIMEOUT_MS } from './proxy/context.js';
import { DEFAULT_PROXY_LIMITS } from './proxy/listener.js';
import { DEFAULT_TOKEN_AUTH } from './proxy/token-auth.js';
import { DEFAULT_UPSTREAM_IDLE_MS, DEFAULT_UPSTREAM_POOL_SIZE } from './proxy/upstream-pool.js';
import { DEFAULT_DEBUG_TUNNELS_LIMIT } from './debug-tunnels.js';
import { DEFAULT_CALLER_ALLOW } from './proxy/caller-auth.js';
import { DEFAULT_STREAM_QUOTAS } from './proxy/stream-quota.js';
import { callerRules, captureMode, dialAddr, ipPort, ipv4s, labelSelectors, listenAddr, listenerShares, nodeNames, replicas } from './flag-types.js';
import { HttpsMode, type ServerFlags } from './server-config.js';

/** Edge Node label selectors of managed edge clusters and OpenYurt (same as @edge-tunnel/kube's). */
export const DEFAULT_EDGE_SELECTORS: readonly string[] = ['alibabacloud.com/is-edge-worker=true', 'openyurt.io/is-edge-worker=true'];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

// one row per line: the table reads as a table
// prettier-ignore
const FLAGS = [
  { name: 'agent-addr', key: 'agentAddr', type: listenAddr(), default: ':10262', help: 'agent listener (mTLS)' },
  { name: 'https-addr', key: 'httpsAddr', type: listenAddr(), default: ':10263', help: 'HTTPS proxy listener' },
  { name: 'http-addr', key: 'httpAddr', type: listenAddr(), default: ':10264', help: 'HTTP proxy listener' },
  { name: 'meta-addr', key: 'metaAddr', type: listenAddr(), default: '127.0.0.1:10265', help: 'health, metrics and debug listener' },
  { name: 'connect-addr', key: 'connectAddr', type: listenAddr(), defaultText: 'off', help: 'HTTP CONNECT frontend (plain TCP only on loopback, see README)' },
  { name: 'agent-ws-addr', key: 'agentWsAddr', type: listenAddr(), defaultText: 'off', help: 'agent sessions over WebSocket, wss://…/edge-tunnel/v1/session' },
  { name: 'connect-require-cert', key: 'connectRequireCert', type: bool(), default: 'false', help: 'CONNECT on --connect-addr over TLS (--cert/--key), caller certificate from --caller-ca matching --caller-allow required' },
  { name: 'connect-uds', key: 'connectUds', type: text(), defaultText: 'off', help: 'CONNECT frontend on this Unix socket too (mode 0660; kube-apiserver egress transport.uds.udsName)' },
  { name: 'cert', key: 'cert', type: text(), required: true, help: 'serving certificate (PEM file)' },
  { name: 'key', key: 'key', type: text(), required: true, help: 'serving key (PEM file)' },
  { name: 'agent-ca', key: 'agentCa', type: text(), required: true, help: 'CA of agent certificates (PEM file)' },
  { name: 'caller-ca', key: 'callerCa', type: text(), defaultText: 'required while callers must present a cert', help: 'CA of caller certificates on the HTTPS listener' },
  { name: 'require-caller-cert', key: 'requireCallerCert', type: bool(), default: 'true', help: 'HTTPS callers must present a certificate from --caller-ca' },
  { name: 'caller-allow', key: 'callerAllow', type: callerRules(), default: DEFAULT_CALLER_ALLOW.join(';'), help: 'HTTPS callers allowed by certificate: name:<CN> or group:<O>, repeatable or ;-separated; edge node identities are always refused' },
  { name: 'token-cache-ttl-ms', key: 'tokenCacheTtlMs', type: ms(0), default: String(DEFAULT_TOKEN_AUTH.tokenTtlMs), help: 'cluster mode: cache time of TokenReview answers for bearer-token callers, either outcome (kubelet\'s default; 0: no cache)' },
  { name: 'authz-cache-ttl-ms', key: 'authzCacheTtlMs', type: ms(0), default: String(DEFAULT_TOKEN_AUTH.authorizedTtlMs), help: 'cluster mode: cache time of allowed SubjectAccessReviews (0: no cache)' },
  { name: 'authz-negative-cache-ttl-ms', key: 'authzNegativeCacheTtlMs', type: ms(0), default: String(DEFAULT_TOKEN_AUTH.unauthorizedTtlMs), help: 'cluster mode: cache time of denied SubjectAccessReviews (0: no cache)' },
  { name: 'auth-cache-entries', key: 'authCacheEntries', type: count(), default: String(DEFAULT_TOKEN_AUTH.maxEntries), help: 'cluster mode: entries per token / authorization cache (oldest dropped first)' },
  { name: 'kubelet-client-cert', key: 'kubeletClientCert', type: text(), help: 'certificate presented to kubelets' },
  { name: 'kubelet-client-key', key: 'kubeletClientKey', type: text(), help: 'key of --kubelet-client-cert' },
  { name: 'kubelet-ca', key: 'kubeletCa', type: text(), help: 'CA of kubelet serving certificates' },
  { name: 'https-mode', key: 'httpsMode', type: oneOf(Object.values(HttpsMode)), default: HttpsMode.terminate, help: 'HTTPS listener: terminate (caller TLS ends here, TLS re-originated to the kubelet with --kubelet-client-cert) or passthrough (the caller\'s TLS reaches the kubelet untouched, routed by SNI or the original destination; no kubelet credential here)' },
  { name: 'verify-kubelet', key: 'verifyKubelet', type: bool(), defaultText: 'true with --kubelet-ca, else false', help: 'verify kubelet serving certificates with --kubelet-ca' },
  { name: 'config', key: 'configFile', type: text(), help: 'port config file (YAML/JSON, ConfigMap keys), applied live' },
  { name: 'config-poll-ms', key: 'configPollMs', type: ms(), default: '2000', help: 'stat fallback period of the config file watch' },
  { name: 'compression', key: 'compression', type: bool(), default: 'true', help: 'offer LZ4 compression to agents' },
  { name: 'keepalive-interval-ms', key: 'keepaliveIntervalMs', type: ms(), default: '10000', help: 'PING cadence on agent sessions' },
  { name: 'keepalive-timeout-ms', key: 'keepaliveTimeoutMs', type: ms(), default: '30000', help: 'silent agent declared dead after this' },
  { name: 'resume-grace-ms', key: 'resumeGraceMs', type: ms(0), default: '60000', help: 'agent sessions: how long a session whose connection was lost waits for its agent to resume it (streams pause, then continue), counted from the last byte received from the agent (a link silent this long is given up; at least 2 s after a late keepalive verdict); 0: no resumption (streams end with the connection)' },
  { name: 'hello-timeout-ms', key: 'helloTimeoutMs', type: ms(), default: '10000', help: 'agent must say hello within this' },
  { name: 'open-timeout-ms', key: 'openTimeoutMs', type: ms(), default: '10000', help: 'agent must answer a stream OPEN within this (else 504)' },
  ...FRAMING_FLAGS.map((f) => ({ name: f.flag, key: f.key, type: int(f.min, f.max), default: String(f.default), help: `agent sessions: ${f.help} (${f.min}–${f.max})` })),
  { name: 'max-agent-handshakes', key: 'maxAgentHandshakes', type: count(), default: String(DEFAULT_MAX_AGENT_HANDSHAKES), help: 'agent port: TLS handshakes in flight; more connections wait (paused, never refused) for a slot' },
  { name: 'max-agent-handshake-queue', key: 'maxAgentHandshakeQueue', type: count(), default: String(DEFAULT_MAX_AGENT_HANDSHAKE_QUEUE), help: 'agent port: connections waiting for a handshake slot; more are refused' },
  { name: 'client-hello-timeout-ms', key: 'clientHelloTimeoutMs', type: ms(), default: String(DEFAULT_CLIENT_HELLO_TIMEOUT_MS), help: 'agent and HTTPS ports: a connection whose ClientHello is not in within this is closed' },
  { name: 'max-pending-connections', key: 'maxPendingConnections', type: count(), default: String(DEFAULT_MAX_PENDING_CONNECTIONS), help: 'agent and HTTPS ports: connections waiting for their ClientHello; beyond, the oldest is closed' },
  { name: 'agent-max-pending-per-source', key: 'agentMaxPendingPerSource', type: int(0, 1_000_000), default: '0', help: 'agent port: connections per source IP not yet through their handshake (0: no cap; see README before setting)' },
  { name: 'https-max-pending-per-source', key: 'httpsMaxPendingPerSource', type: int(0, 1_000_000), default: '256', help: 'HTTPS proxy: connections per source IP not yet through their handshake (0: no cap)' },
  { name: 'https-handshake-timeout-ms', key: 'httpsHandshakeTimeoutMs', type: ms(), default: '10000', help: 'HTTPS proxy: the TLS handshake must end within this' },
  { name: 'drain-timeout-ms', key: 'drainTimeoutMs', type: ms(), default: '5000', help: 'drain deadline for replaced sessions and shutdown' },
  { name: 'log-level', key: 'logLevel', type: oneOf(LOG_LEVELS), default: 'info', help: LOG_LEVELS.join(', ') },
  { name: 'server-id', key: 'serverId', type: text(), defaultText: '$HOSTNAME', help: 'id sent to agents and leader identity' },
  { name: 'kubernetes', key: 'kubernetes', type: bool(), default: 'false', help: 'cluster mode with the in-cluster service account' },
  { name: 'kubeconfig', key: 'kubeconfig', type: text(), help: 'cluster mode with this kubeconfig file' },
  { name: 'namespace', key: 'namespace', type: text(), default: 'kube-system', help: 'namespace of the ConfigMaps, Secrets and Lease' },
  { name: 'edge-node-selector', key: 'edgeNodeSelectors', type: labelSelectors(), default: DEFAULT_EDGE_SELECTORS.join(';'), help: 'label selector of edge Nodes, repeatable or ;-separated (a comma inside one is AND)' },
  { name: 'port-configmap', key: 'portConfigMap', type: text(), default: 'edge-tunnel-server-cfg', help: 'ConfigMap of the port config, applied live' },
  { name: 'capture', key: 'capture', type: captureMode(), defaultText: 'dns in cluster mode, none standalone', help: 'iptables, dns or none (dns needs cluster mode)' },
  { name: 'dns-configmap', key: 'dnsConfigMap', type: text(), default: 'edge-tunnel-nodes', help: 'hosts ConfigMap written in dns capture mode' },
  { name: 'internal-service', key: 'internalService', type: text(), default: 'edge-tunnel-server-internal', help: 'ClusterIP Service the dns hosts point at' },
  { name: 'cluster-domain', key: 'clusterDomain', type: text(), default: 'cluster.local', help: 'dns capture: node names inside this domain (or of the form <svc>.<namespace>[.svc]) are not published, so no Node can shadow a cluster name' },
  { name: 'replica-service', key: 'replicaService', type: text(), default: 'edge-tunnel-server', help: 'Service agents dial; its endpoints (EndpointSlices) are the replicas' },
  { name: 'lease-name', key: 'leaseName', type: text(), default: 'edge-tunnel-server', help: 'Lease of leader election (dns capture writer)' },
  { name: 'ca-secret', key: 'caSecret', type: text(), default: 'edge-tunnel-ca', help: 'Secret of the agent CA (created when absent)' },
  { name: 'bootstrap-token-secret', key: 'bootstrapTokenSecret', type: text(), default: 'edge-tunnel-bootstrap', help: 'Secret of the agent bootstrap tokens' },
  { name: 'enrollments-configmap', key: 'enrollmentsConfigMap', type: text(), default: 'edge-tunnel-enrollments', help: 'ConfigMap recording the certificate each node was issued (a token cannot re-enroll a node that holds one)' },
  { name: 'iptables-https-target', key: 'iptablesHttpsTarget', type: ipPort(), defaultText: 'the HTTPS listener', help: 'DNAT target ip:port of the HTTPS channel (a wildcard listener: $POD_IP)' },
  { name: 'iptables-http-target', key: 'iptablesHttpTarget', type: ipPort(), defaultText: 'the HTTP listener', help: 'DNAT target ip:port of the HTTP channel' },
  { name: 'edge-node-ip', key: 'edgeNodeIps', type: ipv4s(), default: '', help: 'standalone iptables capture: an edge node IPv4 to capture besides those of attached agents, repeatable or ;-separated' },
  { name: 'iptables-resync-ms', key: 'iptablesResyncMs', type: ms(), default: '60000', help: 'iptables capture: re-apply period that repairs deleted rules' },
  { name: 'iptables-other-ports', key: 'iptablesOtherPorts', type: bool(), default: 'true', help: 'iptables capture: DNAT every other TCP port of an edge IP to the HTTP listener, so callers get 403 PORT_NOT_CONFIGURED at once instead of a hang' },
  { name: 'pod-cache-ttl-ms', key: 'podCacheTtlMs', type: ms(), default: '30000', help: 'cache time of pod → node lookups' },
  { name: 'advertise-addr', key: 'advertiseAddr', type: dialAddr(), defaultText: '--agent-addr unless a wildcard or port 0', help: 'host:port agents dial to reach this replica directly' },
  { name: 'peer-addr', key: 'peerAddrs', type: replicas(), default: '', help: 'standalone replica list, host:port or id=host:port, repeatable or ;-separated' },
  { name: 'ready-grace-ms', key: 'readyGraceMs', type: ms(), default: '30000', help: '/readyz waits at most this long since start for expected agents' },
  { name: 'expected-nodes', key: 'expectedNodes', type: nodeNames(), help: 'standalone: node names whose agents /readyz waits for, repeatable or ;-separated' },
  { name: 'shutdown-delay-ms', key: 'shutdownDelayMs', type: ms(0), default: '0', help: 'on SIGTERM: unready at once, keep serving this long, then drain' },
  { name: 'max-streams-per-node', key: 'maxStreamsPerNode', type: count(), default: String(DEFAULT_MAX_STREAMS_PER_NODE), help: 'proxies: concurrent streams to one node; the next gets 503 STREAM_LIMIT' },
  { name: 'unauthenticated-stream-share', key: 'unauthenticatedStreamShare', type: int(0, 100), default: String(DEFAULT_STREAM_QUOTAS.unauthenticatedShare), help: 'proxies: % of --max-streams-per-node callers without a credential may hold to one node together (the rest is reserved; else 429 STREAM_QUOTA)' },
  { name: 'source-stream-share', key: 'sourceStreamShare', type: int(1, 100), default: String(DEFAULT_STREAM_QUOTAS.sourceShare), help: 'proxies: % of --max-streams-per-node one unauthenticated source address may hold to one node' },
  { name: 'caller-stream-share', key: 'callerStreamShare', type: int(1, 100), default: String(DEFAULT_STREAM_QUOTAS.callerShare), help: 'proxies: % of --max-streams-per-node one certificate identity may hold to one node' },
  { name: 'listener-stream-share', key: 'listenerStreamShare', type: listenerShares(), default: '', defaultText: '100 each', help: 'proxies: <listener>=<percent> (https, http, connect) of --max-streams-per-node that listener may hold to one node, repeatable or ;-separated' },
  { name: 'headers-timeout-ms', key: 'headersTimeoutMs', type: ms(), default: String(DEFAULT_PROXY_LIMITS.headersTimeoutMs), help: 'proxies: a request head must arrive within this (else 408)' },
  { name: 'request-timeout-ms', key: 'requestTimeoutMs', type: ms(0), default: String(DEFAULT_PROXY_LIMITS.requestTimeoutMs), help: 'proxies: a whole request must arrive within this (else 408; 0 = no limit)' },
  { name: 'max-header-bytes', key: 'maxHeaderBytes', type: count(), default: String(DEFAULT_PROXY_LIMITS.maxHeaderBytes), help: 'proxies: largest request head in bytes (else 431)' },
  { name: 'caller-idle-timeout-ms', key: 'callerIdleTimeoutMs', type: ms(), default: String(DEFAULT_PROXY_LIMITS.callerIdleTimeoutMs), help: 'proxies and meta listener: close a keep-alive caller connection idle this long between requests (above clients\' own idle timeouts, Go: 90 s, so they close first)' },
  { name: 'upstream-pool-size', key: 'upstreamPoolSize', type: int(0, 1024), default: String(DEFAULT_UPSTREAM_POOL_SIZE), help: 'HTTPS and HTTP proxies: idle upstream connections (a stream, + TLS on HTTPS) kept per node and port, each listener (0 = a stream, and on HTTPS a TLS handshake, per request)' },
  { name: 'upstream-idle-timeout-ms', key: 'upstreamIdleTimeoutMs', type: ms(), default: String(DEFAULT_UPSTREAM_IDLE_MS), help: 'HTTPS and HTTP proxies: close a pooled upstream connection idle this long (the target\'s Keep-Alive timeout= wins if shorter)' },
  { name: 'metrics-per-node', key: 'metricsPerNode', type: bool(), default: 'false', help: '/metrics: per-node series (label node, one per attached node)' },
  { name: 'debug-tunnels-limit', key: 'debugTunnelsLimit', type: count(), default: String(DEFAULT_DEBUG_TUNNELS_LIMIT), help: '/debug/tunnels: nodes per page without ?limit= (?node=, ?after= and ?limit= page through)' },
  { name: 'relay-idle-timeout-ms', key: 'relayIdleTimeoutMs', type: ms(), default: String(DEFAULT_RELAY_IDLE_TIMEOUT_MS), help: 'proxies: close an upgraded or CONNECT relay silent both ways this long' },
] as const satisfies readonly FlagSpec<ServerFlags>[];

/** Every key of ServerFlags has its row (compile error naming the key otherwise). */
const complete: [Uncovered<ServerFlags, typeof FLAGS>] extends [never] ? true : Uncovered<ServerFlags, typeof FLAGS> = true;
void complete;

export const SERVER_FLAGS = new FlagSet<ServerFlags>({
  binary: 'edge-tunnel-server',
  envPrefix: 'EDGE_TUNNEL_',
  intro: ['Certificates, keys and CAs are PEM file paths.'],
  flags: FLAGS,
});
