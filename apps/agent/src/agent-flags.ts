// Every flag of edge-tunnel-agent, one row each: name, config key, type (its validation), default
// as command-line text, one line of help (the --help text; the README's flag table is checked
// against it). Parsed by @edge-tunnel/flags in config.ts; libs/flags/README.md says how to add one.
import { isIP } from 'node:net';
import { FRAMING_FLAGS, SESSION_DEFAULTS, type FramingLimits } from '@edge-tunnel/framing';
import { FlagSet, bool, count, custom, int, list, ms, oneOf, reject, text, type FlagSpec, type ScalarType, type Uncovered } from '@edge-tunnel/flags';
import { parseCidr } from './cidr.js';
import { NO_REPLICA_CIDRS } from './replica-policy.js';
import { parsePortList, type PortRange } from './ports.js';
import { DEFAULT_PROXY_TIMEOUT_MS } from './proxy-config.js';
import type { TransportSetting } from './transport-choice.js';

export const DEFAULT_SERVER_PORT = 10262;
/** Where enrolled credentials are written (agent.crt, agent.key, ca.crt). */
export const DEFAULT_CERT_DIR = '/var/lib/edge-tunnel';
/** Renew when less than this fraction of the certificate's lifetime remains. */
export const DEFAULT_RENEW_BEFORE = 0.33;
/** Window over which the first redial after a lost session is spread (see Backoff). */
export const DEFAULT_RECONNECT_SPREAD_MS = 8000;
/** Idle limit of a relayed stream: the kubelet's streaming-connection-idle-timeout (4 h), as the server's. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;
/** Smallest initial stream window: beyond budget ÷ this many streams, windows cannot shrink further. */
export const MIN_INITIAL_WINDOW = 4 * 1024;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const HOUR = 3_600_000;

export interface HostPort {
  host: string;
  port: number;
}

/** One field per flag; the session's framing limits (--receive-budget …) are the FramingLimits fields. */
export interface AgentFlags extends FramingLimits {
  /** the server's agent port (through the load balancer) */
  server: HostPort;
  /** TLS SNI and verification name (unset: the server host) */
  serverName?: string;
  nodeName: string;
  nodeIps: string[];
  /** client certificate and key; optional with a bootstrap token (then enrolled into certDir) */
  certFile?: string;
  keyFile?: string;
  caFile: string;
  /** file holding the bootstrap token: enroll when certFile/keyFile are absent or missing, and renew */
  bootstrapTokenFile?: string;
  /** where enrolled credentials are written */
  certDir: string;
  /** renew when less than this fraction (0–1) of the lifetime remains */
  renewBefore: number;
  /** /healthz, /readyz, /metrics */
  metaAddr: HostPort;
  compression: boolean;
  /** offer session resumption (ALPN edge-tunnel-resume/1; WebSocket subprotocol edge-tunnel-resume.v1): an unexpected connection loss pauses the streams and resumes them */
  resume: boolean;
  /** ceiling on node-IP ports the server's port config may open (besides 10250/10255); absent: no ceiling */
  allowPorts?: PortRange[];
  /** ceiling on 127.0.0.1 ports; empty: none */
  localhostPorts: PortRange[];
  dialTimeoutMs: number;
  /** a relayed stream with no byte either way for this long is reset with TIMEOUT (0: never) */
  streamIdleTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** redials after a lost session are spread over this window (see Backoff); 0: no spread */
  reconnectSpreadMs: number;
  /** replica addresses (hello / control stream) dialed besides the --server host: IPs in these CIDRs */
  replicaCidrs: string[];
  /** concurrent streams the server may open on one session (framing MAX_STREAMS) */
  maxStreams: number;
  drainTimeoutMs: number;
  logLevel: LogLevel;
  /** tls: the agent port; websocket: wss://… (--ws-url), for egress that passes only HTTP(S); auto: TLS, then WebSocket (transport-choice.ts) */
  transport: TransportSetting;
  /** the WebSocket session endpoint (unset: wss://<server host>/edge-tunnel/v1/session) */
  wsUrl?: URL;
  /** HTTP CONNECT proxy (with the environment's, see proxy-config.ts): --proxy, its auth file, CA, timeout */
  proxy?: string;
  proxyAuthFile?: string;
  proxyCa?: string;
  proxyTimeoutMs: number;
}

/** `host:port`, `[v6]:port`, or `host` when a default port exists. */
export function parseHostPort(text: string, defaultPort?: number): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!host || port === undefined || port < 0 || port > 65_535 || (m?.[1] !== undefined && isIP(host) !== 6)) return undefined;
  return { host, port };
}

function hostPort(defaultPort?: number): ScalarType<HostPort> {
  return custom(defaultPort ? 'host:port or host' : 'host:port', (t) => parseHostPort(t, defaultPort) ?? reject(t));
}

/** `9100-9199,9051`; `none`: the empty list. */
function portList(): ScalarType<PortRange[]> {
  return custom('ports and ranges such as 9100-9199,9051, or none', (t) => {
    if (t.toLowerCase() === 'none') return [];
    const parsed = parsePortList(t);
    return typeof parsed === 'string' ? reject(t, parsed) : parsed;
  });
}

function wssUrl(): ScalarType<URL> {
  return custom('a wss:// URL (the session is never sent in clear)', (t) => {
    try {
      const url = new URL(t);
      return url.protocol === 'wss:' ? url : reject(t);
    } catch {
      return reject(t);
    }
  });
}

// one row per line: the table reads as a table
// prettier-ignore
const FLAGS = [
  { name: 'server', key: 'server', type: hostPort(DEFAULT_SERVER_PORT), required: true, help: `server agent address host:port (the load balancer; port defaults to ${DEFAULT_SERVER_PORT})` },
  { name: 'node-name', key: 'nodeName', env: 'NODE_NAME', required: true, help: 'this node\'s name; must match the certificate',
    type: custom('a Kubernetes node name (lower-case DNS subdomain)', (t) => (/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(t) ? t : reject(t))) },
  { name: 'node-ip', key: 'nodeIps', env: 'NODE_IP', type: list('IP addresses', (t) => (isIP(t) ? t : reject(t))), required: true, help: 'an address of this node, repeatable or ;-separated' },
  { name: 'cert', key: 'certFile', type: text(), defaultText: 'required without --bootstrap-token-file', help: 'client certificate file (PEM)' },
  { name: 'key', key: 'keyFile', type: text(), defaultText: 'required without --bootstrap-token-file', help: 'client key file (PEM)' },
  { name: 'ca', key: 'caFile', type: text(), required: true, help: 'CA file that signed the server certificate (PEM)' },
  { name: 'bootstrap-token-file', key: 'bootstrapTokenFile', type: text(), help: 'bootstrap token file: enroll for a certificate (and renew it) over the agent port' },
  { name: 'cert-dir', key: 'certDir', type: text(), default: DEFAULT_CERT_DIR, help: 'where enrolled agent.crt, agent.key and ca.crt are written' },
  { name: 'renew-before', key: 'renewBefore', default: String(DEFAULT_RENEW_BEFORE), help: 'renew when less than this fraction of the certificate lifetime remains',
    type: custom('a fraction between 0 and 1 (e.g. 0.33)', (t) => (/^\d*\.?\d+$/.test(t) && Number(t) > 0 && Number(t) < 1 ? Number(t) : reject(t))) },
  { name: 'server-name', key: 'serverName', type: text(), defaultText: 'the server host', help: 'TLS server name to send and verify' },
  { name: 'meta-addr', key: 'metaAddr', type: hostPort(), default: '127.0.0.1:10266', help: '/healthz /readyz /metrics listener' },
  { name: 'compression', key: 'compression', type: bool(), default: 'on', help: 'offer LZ4 compression: on or off' },
  { name: 'resume', key: 'resume', type: bool(), default: 'on', help: 'offer session resumption: on a lost connection (not GOAWAY) redial the same replica and resume, streams paused meanwhile; on or off' },
  { name: 'allow-ports', key: 'allowPorts', type: portList(), defaultText: 'no ceiling', help: 'ceiling on the node-IP ports the server\'s port config may open, e.g. 9100-9199,9051 ("none": kubelet ports only)' },
  { name: 'localhost-ports', key: 'localhostPorts', type: portList(), default: 'none', help: 'ceiling on the 127.0.0.1 ports the server\'s port config may open' },
  { name: 'dial-timeout-ms', key: 'dialTimeoutMs', type: ms(1, 600_000), default: '5000', help: 'local target dial timeout' },
  { name: 'stream-idle-timeout-ms', key: 'streamIdleTimeoutMs', type: ms(0, 7 * 24 * HOUR), default: String(DEFAULT_STREAM_IDLE_TIMEOUT_MS), help: 'a relayed stream with no byte either way for this long is reset with TIMEOUT (0: never; default the kubelet\'s 4 h streaming idle timeout, as the server\'s --relay-idle-timeout-ms)' },
  { name: 'keepalive-interval-ms', key: 'keepaliveIntervalMs', type: ms(10, HOUR), default: '10000', help: 'PING cadence' },
  { name: 'keepalive-timeout-ms', key: 'keepaliveTimeoutMs', type: ms(10, HOUR), default: '30000', help: 'silent server => reconnect' },
  { name: 'backoff-base-ms', key: 'backoffBaseMs', type: ms(1, HOUR), default: '500', help: 'first reconnect delay ceiling' },
  { name: 'backoff-max-ms', key: 'backoffMaxMs', type: ms(1, HOUR), default: '30000', help: 'largest reconnect delay' },
  { name: 'reconnect-spread-ms', key: 'reconnectSpreadMs', type: ms(0, HOUR), default: String(DEFAULT_RECONNECT_SPREAD_MS), help: 'redials after a lost session are spread over this window: a fleet losing a server does not return at once (0: off)' },
  { name: 'replica-cidrs', key: 'replicaCidrs', default: '', defaultText: 'private ranges on the --server port', help: 'CIDRs of replica addresses the server may tell this agent to dial, besides the --server host (repeatable or ;-separated); unset: 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 on the --server port only; none: the --server host only; at most 16 replicas are dialed',
    type: list('CIDRs such as 10.20.0.0/16, or none', (t) => {
      if (t === NO_REPLICA_CIDRS) return t;
      try {
        parseCidr(t);
        return t;
      } catch (err) {
        return reject(t, (err as Error).message);
      }
    }) },
  { name: 'max-streams', key: 'maxStreams', type: count(), default: String(SESSION_DEFAULTS.maxStreams), help: `concurrent streams the server may open per session (1 to --receive-budget ÷ ${MIN_INITIAL_WINDOW}); more are refused; above budget ÷ --initial-window the budget is shared: initial windows shrink to budget ÷ N` },
  ...FRAMING_FLAGS.map((f) => ({ name: f.flag, key: f.key, type: int(f.min, f.max), default: String(f.default), help: `${f.help} (${f.min}–${f.max})` })),
  { name: 'drain-timeout-ms', key: 'drainTimeoutMs', type: ms(0, HOUR), default: '10000', help: 'on SIGTERM, how long open streams may finish' },
  { name: 'transport', key: 'transport', type: oneOf(['tls', 'websocket', 'auto']), default: 'tls', help: 'tls (the agent port), websocket (--ws-url: through an ingress or L7 proxy that passes only HTTP(S)) or auto (TLS first; WebSocket when the proxy refuses CONNECT or the agent port or its TLS is blocked; the choice is kept per replica until restart)' },
  { name: 'ws-url', key: 'wsUrl', type: wssUrl(), defaultText: 'wss://<server host>/edge-tunnel/v1/session', help: 'WebSocket session endpoint' },
  { name: 'proxy', key: 'proxy', type: text(), help: 'HTTP CONNECT proxy http://host:port or https://host:port; wins over https_proxy/HTTPS_PROXY (which honour NO_PROXY); "direct" ignores them' },
  { name: 'proxy-auth-file', key: 'proxyAuthFile', type: text(), help: 'file holding user:password for Basic proxy authentication (read on every dial, never logged)' },
  { name: 'proxy-ca', key: 'proxyCa', type: text(), defaultText: 'system CAs', help: 'CA file of an https:// proxy\'s certificate' },
  { name: 'proxy-timeout-ms', key: 'proxyTimeoutMs', type: ms(1, 600_000), default: String(DEFAULT_PROXY_TIMEOUT_MS), help: 'connection to the proxy and its answer to CONNECT' },
  { name: 'log-level', key: 'logLevel', type: oneOf(LOG_LEVELS), default: 'info', help: LOG_LEVELS.join(', ') },
] as const satisfies readonly FlagSpec<AgentFlags>[];

/** Every key of AgentFlags has its row (compile error naming the key otherwise). */
const complete: [Uncovered<AgentFlags, typeof FLAGS>] extends [never] ? true : Uncovered<AgentFlags, typeof FLAGS> = true;
void complete;

export const AGENT_FLAGS = new FlagSet<AgentFlags>({ binary: 'edge-tunnel-agent', envPrefix: 'EDGE_TUNNEL_', flags: FLAGS });
