// Flags with environment fallbacks. Pure: parseConfig(argv, env) never touches files or sockets.
import { isIP } from 'node:net';
import { FRAMING_FLAGS, SESSION_DEFAULTS, framingLimitsProblem, type FramingLimits } from '@edge-tunnel/framing';
import { ConfigError } from './errors.js';
import { parsePortList, type PortRange } from './ports.js';
import { parseCidr } from './cidr.js';
import { DEFAULT_PROXY_TIMEOUT_MS, proxyConfig, type ProxyConfig } from './proxy-config.js';

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
const MIN_INITIAL_WINDOW = 4 * 1024;

/**
 * The initial receive window of each stream: --initial-window while --receive-budget holds
 * `maxStreams` of them, else the budget shared evenly, so every allowed stream can open (a busy one
 * grows its window on demand while the budget has room).
 */
export function initialWindowFor(c: Pick<AgentConfig, 'maxStreams' | 'initialWindow' | 'receiveBudget'>): number {
  return Math.min(c.initialWindow, Math.floor(c.receiveBudget / c.maxStreams));
}
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface HostPort {
  host: string;
  port: number;
}

/** The session's framing limits (--receive-budget …) are the FramingLimits fields. */
export interface AgentConfig extends FramingLimits {
  /** the server's agent port (through the load balancer) */
  server: HostPort;
  /** TLS SNI and verification name; the server host unless set */
  serverName: string;
  nodeName: string;
  nodeIps: string[];
  /** client certificate and key; optional with a bootstrap token (then enrolled into certDir) */
  certFile?: string;
  keyFile?: string;
  caFile: string;
  /** file holding the bootstrap token: enroll when certFile/keyFile are absent or missing, and renew */
  bootstrapTokenFile?: string;
  /** where enrolled credentials are written; default DEFAULT_CERT_DIR */
  certDir?: string;
  /** renew when less than this fraction (0–1) of the lifetime remains; default DEFAULT_RENEW_BEFORE */
  renewBefore?: number;
  /** /healthz, /readyz, /metrics */
  metaAddr: HostPort;
  compression: boolean;
  /** offer session resumption (ALPN edge-tunnel-resume/1): an unexpected connection loss pauses the streams and resumes them */
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
  replicaCidrs?: string[];
  /** concurrent streams the server may open on one session (framing MAX_STREAMS) */
  maxStreams: number;
  drainTimeoutMs: number;
  logLevel: LogLevel;
  /** tls: the agent port; websocket: wss://… (--ws-url), for egress that passes only HTTP(S) */
  transport: 'tls' | 'websocket';
  /** the WebSocket session endpoint (transport websocket) */
  wsUrl: URL;
  /** HTTP CONNECT proxy for enrollment and every session dial (see proxy-config.ts); absent: direct */
  proxy?: ProxyConfig;
}

export type ParseResult = { help: true; text: string } | { help: false; config: AgentConfig };

interface FlagSpec {
  name: string;
  env: string;
  def?: string;
  repeat?: boolean;
  text: string;
}

/** Every flag, its environment variable and default: the source of `--help` and the README table. */
export const FLAGS: readonly FlagSpec[] = [
  { name: 'server', env: 'EDGE_TUNNEL_SERVER', text: 'server agent address host:port (the load balancer; port defaults to 10262)' },
  { name: 'node-name', env: 'NODE_NAME', text: 'this node\'s name; must match the certificate' },
  { name: 'node-ip', env: 'NODE_IP', repeat: true, text: 'an address of this node (repeatable; comma-separated in env)' },
  { name: 'cert', env: 'EDGE_TUNNEL_CERT', text: 'client certificate file (PEM); optional with --bootstrap-token-file' },
  { name: 'key', env: 'EDGE_TUNNEL_KEY', text: 'client key file (PEM); optional with --bootstrap-token-file' },
  { name: 'ca', env: 'EDGE_TUNNEL_CA', text: 'CA file that signed the server certificate (PEM)' },
  { name: 'bootstrap-token-file', env: 'EDGE_TUNNEL_BOOTSTRAP_TOKEN_FILE', text: 'bootstrap token file: enroll for a certificate (and renew it) over the agent port' },
  { name: 'cert-dir', env: 'EDGE_TUNNEL_CERT_DIR', def: DEFAULT_CERT_DIR, text: 'where enrolled agent.crt, agent.key and ca.crt are written' },
  { name: 'renew-before', env: 'EDGE_TUNNEL_RENEW_BEFORE', def: String(DEFAULT_RENEW_BEFORE), text: 'renew when less than this fraction of the certificate lifetime remains' },
  { name: 'server-name', env: 'EDGE_TUNNEL_SERVER_NAME', text: 'TLS server name to send and verify (default: the server host)' },
  { name: 'meta-addr', env: 'EDGE_TUNNEL_META_ADDR', def: '127.0.0.1:10266', text: '/healthz /readyz /metrics listener' },
  { name: 'compression', env: 'EDGE_TUNNEL_COMPRESSION', def: 'on', text: 'offer LZ4 compression: on or off' },
  { name: 'resume', env: 'EDGE_TUNNEL_RESUME', def: 'on', text: 'offer session resumption: on a lost connection (not GOAWAY) redial the same replica and resume, streams paused meanwhile; on or off' },
  { name: 'allow-ports', env: 'EDGE_TUNNEL_ALLOW_PORTS', def: '', text: 'ceiling on the node-IP ports the server\'s port config may open, e.g. 9100-9199,9051 ("none": kubelet ports only; unset: no ceiling)' },
  { name: 'localhost-ports', env: 'EDGE_TUNNEL_LOCALHOST_PORTS', def: '', text: 'ceiling on the 127.0.0.1 ports the server\'s port config may open (unset: none)' },
  { name: 'dial-timeout-ms', env: 'EDGE_TUNNEL_DIAL_TIMEOUT_MS', def: '5000', text: 'local target dial timeout' },
  { name: 'stream-idle-timeout-ms', env: 'EDGE_TUNNEL_STREAM_IDLE_TIMEOUT_MS', def: String(DEFAULT_STREAM_IDLE_TIMEOUT_MS), text: 'a relayed stream with no byte either way for this long is reset with TIMEOUT (0: never; default the kubelet\'s 4 h streaming idle timeout, as the server\'s --relay-idle-timeout-ms)' },
  { name: 'keepalive-interval-ms', env: 'EDGE_TUNNEL_KEEPALIVE_INTERVAL_MS', def: '10000', text: 'PING cadence' },
  { name: 'keepalive-timeout-ms', env: 'EDGE_TUNNEL_KEEPALIVE_TIMEOUT_MS', def: '30000', text: 'silent server => reconnect' },
  { name: 'backoff-base-ms', env: 'EDGE_TUNNEL_BACKOFF_BASE_MS', def: '500', text: 'first reconnect delay ceiling' },
  { name: 'backoff-max-ms', env: 'EDGE_TUNNEL_BACKOFF_MAX_MS', def: '30000', text: 'largest reconnect delay' },
  { name: 'reconnect-spread-ms', env: 'EDGE_TUNNEL_RECONNECT_SPREAD_MS', def: String(DEFAULT_RECONNECT_SPREAD_MS), text: 'redials after a lost session are spread over this window: a fleet losing a server does not return at once (0: off)' },
  { name: 'replica-cidrs', env: 'EDGE_TUNNEL_REPLICA_CIDRS', def: '', repeat: true, text: 'CIDRs of replica addresses the server may tell this agent to dial, besides the --server host (repeatable; comma-separated); at most 16 replicas are dialed' },
  { name: 'max-streams', env: 'EDGE_TUNNEL_MAX_STREAMS', def: String(SESSION_DEFAULTS.maxStreams), text: `concurrent streams the server may open per session (1 to --receive-budget ÷ ${MIN_INITIAL_WINDOW}); more are refused; above budget ÷ --initial-window the budget is shared: initial windows shrink to budget ÷ N` },
  ...FRAMING_FLAGS.map((f): FlagSpec => ({ name: f.flag, env: `EDGE_TUNNEL_${f.flag.toUpperCase().replaceAll('-', '_')}`, def: String(f.default), text: `${f.help} (${f.min}–${f.max})` })),
  { name: 'drain-timeout-ms', env: 'EDGE_TUNNEL_DRAIN_TIMEOUT_MS', def: '10000', text: 'on SIGTERM, how long open streams may finish' },
  { name: 'transport', env: 'EDGE_TUNNEL_TRANSPORT', def: 'tls', text: 'tls (the agent port) or websocket (--ws-url: through an ingress or L7 proxy that passes only HTTP(S))' },
  { name: 'ws-url', env: 'EDGE_TUNNEL_WS_URL', text: 'WebSocket session endpoint (default wss://<server host>/edge-tunnel/v1/session)' },
  { name: 'proxy', env: 'EDGE_TUNNEL_PROXY', text: 'HTTP CONNECT proxy http://host:port or https://host:port; wins over https_proxy/HTTPS_PROXY (which honour NO_PROXY); "direct" ignores them' },
  { name: 'proxy-auth-file', env: 'EDGE_TUNNEL_PROXY_AUTH_FILE', text: 'file holding user:password for Basic proxy authentication (read on every dial, never logged)' },
  { name: 'proxy-ca', env: 'EDGE_TUNNEL_PROXY_CA', text: 'CA file of an https:// proxy\'s certificate (default: the system CAs)' },
  { name: 'proxy-timeout-ms', env: 'EDGE_TUNNEL_PROXY_TIMEOUT_MS', def: String(DEFAULT_PROXY_TIMEOUT_MS), text: 'connection to the proxy and its answer to CONNECT' },
  { name: 'log-level', env: 'EDGE_TUNNEL_LOG_LEVEL', def: 'info', text: LOG_LEVELS.join(', ') },
];

export function helpText(): string {
  const lines = FLAGS.map((f) => {
    const def = f.def === undefined ? '' : ` (default ${f.def === '' ? 'none' : f.def})`;
    return `  --${f.name.padEnd(22)} ${f.env.padEnd(34)} ${f.text}${def}`;
  });
  return ['usage: edge-tunnel-agent [flags]', '', '  flag                     env', ...lines, '  --help', ''].join('\n');
}

/** Parses argv (without node and script) with env fallbacks. Throws ConfigError naming the flag. */
export function parseConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): ParseResult {
  const given = readArgv(argv);
  if (given === 'help') return { help: true, text: helpText() };
  const raw = (name: string): string | undefined => {
    const spec = FLAGS.find((f) => f.name === name)!;
    const values = given.get(name);
    if (values) return spec.repeat ? values.join(',') : values[values.length - 1];
    return env[spec.env] ?? spec.def;
  };
  return { help: false, config: build(raw, env) };
}

function readArgv(argv: readonly string[]): Map<string, string[]> | 'help' {
  const given = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new ConfigError(arg, `unexpected argument "${arg}" (see --help)`);
    const name = m[1]!;
    if (!FLAGS.some((f) => f.name === name)) throw new ConfigError(`--${name}`, `unknown flag --${name} (see --help)`);
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`--${name}`, `--${name} needs a value`);
    }
    given.set(name, [...(given.get(name) ?? []), value]);
  }
  return given;
}

type Raw = (name: string) => string | undefined;

function build(raw: Raw, env: Record<string, string | undefined>): AgentConfig {
  const server = hostPort('server', required(raw, 'server'), DEFAULT_SERVER_PORT);
  const bootstrapTokenFile = raw('bootstrap-token-file')?.trim() || undefined;
  const config: AgentConfig = {
    server,
    serverName: raw('server-name') || server.host,
    nodeName: nodeName(required(raw, 'node-name')),
    nodeIps: nodeIps(required(raw, 'node-ip')),
    ...credentialFiles(raw, bootstrapTokenFile !== undefined),
    caFile: required(raw, 'ca'),
    ...(bootstrapTokenFile !== undefined ? { bootstrapTokenFile } : {}),
    certDir: required(raw, 'cert-dir'),
    renewBefore: fraction('renew-before', raw('renew-before')!),
    metaAddr: hostPort('meta-addr', raw('meta-addr')!, undefined),
    compression: onOff('compression', raw('compression')!),
    resume: onOff('resume', raw('resume')!),
    ...ceiling(raw('allow-ports')!),
    localhostPorts: ports('localhost-ports', raw('localhost-ports')!),
    dialTimeoutMs: int(raw, 'dial-timeout-ms', 1, 600_000),
    streamIdleTimeoutMs: int(raw, 'stream-idle-timeout-ms', 0, 7 * 24 * 3_600_000),
    keepaliveIntervalMs: int(raw, 'keepalive-interval-ms', 10, 3_600_000),
    keepaliveTimeoutMs: int(raw, 'keepalive-timeout-ms', 10, 3_600_000),
    backoffBaseMs: int(raw, 'backoff-base-ms', 1, 3_600_000),
    backoffMaxMs: int(raw, 'backoff-max-ms', 1, 3_600_000),
    reconnectSpreadMs: int(raw, 'reconnect-spread-ms', 0, 3_600_000),
    replicaCidrs: cidrs(raw('replica-cidrs')!),
    maxStreams: int(raw, 'max-streams', 1, 0x7fff_ffff),
    ...framingLimits(raw),
    drainTimeoutMs: int(raw, 'drain-timeout-ms', 0, 3_600_000),
    logLevel: logLevel(raw('log-level')!),
    transport: transport(raw('transport')!),
    wsUrl: wsUrl(raw('ws-url'), server.host),
  };
  const proxy = proxyConfig({ proxy: raw('proxy'), authFile: raw('proxy-auth-file')?.trim() || undefined, caFile: raw('proxy-ca')?.trim() || undefined, timeoutMs: int(raw, 'proxy-timeout-ms', 1, 600_000) }, env);
  if (proxy) config.proxy = proxy;
  if (config.keepaliveTimeoutMs < config.keepaliveIntervalMs) {
    throw new ConfigError('--keepalive-timeout-ms', `--keepalive-timeout-ms (${config.keepaliveTimeoutMs}) must be at least --keepalive-interval-ms (${config.keepaliveIntervalMs})`);
  }
  const framing = framingLimitsProblem(config);
  if (framing) throw new ConfigError(framing.flag, framing.message);
  if (initialWindowFor(config) < MIN_INITIAL_WINDOW) {
    const most = Math.floor(config.receiveBudget / MIN_INITIAL_WINDOW);
    throw new ConfigError('--max-streams', `--max-streams (${config.maxStreams}) must be at most ${most}: --receive-budget (${config.receiveBudget}) ÷ the smallest stream window (${MIN_INITIAL_WINDOW})`);
  }
  if (config.backoffMaxMs < config.backoffBaseMs) {
    throw new ConfigError('--backoff-max-ms', `--backoff-max-ms (${config.backoffMaxMs}) must be at least --backoff-base-ms (${config.backoffBaseMs})`);
  }
  return config;
}

function framingLimits(raw: Raw): FramingLimits {
  return Object.fromEntries(FRAMING_FLAGS.map((f) => [f.key, int(raw, f.flag, f.min, f.max)])) as unknown as FramingLimits;
}

function required(raw: Raw, name: string): string {
  const value = raw(name)?.trim();
  if (!value) {
    const env = FLAGS.find((f) => f.name === name)!.env;
    throw new ConfigError(`--${name}`, `--${name} is required (or set ${env})`);
  }
  return value;
}

/** --cert and --key: both required without a bootstrap token; with one, both or neither. */
function credentialFiles(raw: Raw, enrolls: boolean): { certFile?: string; keyFile?: string } {
  const certFile = raw('cert')?.trim() || undefined;
  const keyFile = raw('key')?.trim() || undefined;
  if (!enrolls || (certFile === undefined) !== (keyFile === undefined)) {
    const missing = certFile === undefined ? 'cert' : keyFile === undefined ? 'key' : undefined;
    if (missing !== undefined) {
      const env = FLAGS.find((f) => f.name === missing)!.env;
      throw new ConfigError(`--${missing}`, `--${missing} is required (or set ${env}) unless --bootstrap-token-file is given${enrolls ? ' (then give both --cert and --key, or neither)' : ''}`);
    }
  }
  return { ...(certFile !== undefined ? { certFile } : {}), ...(keyFile !== undefined ? { keyFile } : {}) };
}

function fraction(flag: string, text: string): number {
  const value = Number(text.trim());
  if (!/^\d*\.?\d+$/.test(text.trim()) || !(value > 0 && value < 1)) {
    throw new ConfigError(`--${flag}`, `--${flag} must be a fraction between 0 and 1 (e.g. 0.33), got "${text}"`);
  }
  return value;
}

/** "host:port", "[v6]:port", or "host" when a default port exists. */
export function hostPort(flag: string, text: string, defaultPort: number | undefined): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!host || port === undefined || port < 0 || port > 65_535 || (m?.[1] !== undefined && isIP(host) !== 6)) {
    throw new ConfigError(`--${flag}`, `--${flag} must be host:port${defaultPort ? ' or host' : ''}, got "${text}"`);
  }
  return { host, port };
}

function nodeName(text: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(text)) {
    throw new ConfigError('--node-name', `--node-name must be a Kubernetes node name (lower-case DNS subdomain), got "${text}"`);
  }
  return text;
}

function nodeIps(text: string): string[] {
  const ips = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = ips.find((ip) => isIP(ip) === 0);
  if (bad !== undefined) throw new ConfigError('--node-ip', `--node-ip must be an IP address, got "${bad}"`);
  if (ips.length === 0) throw new ConfigError('--node-ip', '--node-ip is required (or set NODE_IP)');
  return [...new Set(ips)];
}

function cidrs(text: string): string[] {
  const list = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const c of list) {
    try {
      parseCidr(c);
    } catch (err) {
      throw new ConfigError('--replica-cidrs', `--replica-cidrs: ${(err as Error).message}`);
    }
  }
  return list;
}

function onOff(flag: string, text: string): boolean {
  const v = text.trim().toLowerCase();
  if (['on', 'true', '1', 'yes'].includes(v)) return true;
  if (['off', 'false', '0', 'no'].includes(v)) return false;
  throw new ConfigError(`--${flag}`, `--${flag} must be on or off, got "${text}"`);
}

/** --allow-ports: unset or blank is no ceiling (absent), "none" the empty one. */
function ceiling(text: string): { allowPorts?: PortRange[] } {
  if (text.trim() === '') return {};
  return { allowPorts: ports('allow-ports', text) };
}

function ports(flag: string, text: string): PortRange[] {
  if (text.trim().toLowerCase() === 'none') return [];
  const parsed = parsePortList(text);
  if (typeof parsed === 'string') throw new ConfigError(`--${flag}`, `--${flag}: ${parsed}`);
  return parsed;
}

function int(raw: Raw, flag: string, min: number, max: number): number {
  const text = raw(flag)!.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ConfigError(`--${flag}`, `--${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function logLevel(text: string): LogLevel {
  const v = text.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(v)) {
    throw new ConfigError('--log-level', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${text}"`);
  }
  return v as LogLevel;
}

function transport(value: string): 'tls' | 'websocket' {
  const v = value.trim().toLowerCase();
  if (v === 'tls' || v === 'websocket') return v;
  throw new ConfigError('--transport', `--transport must be tls or websocket, got ${JSON.stringify(value)}`);
}

function wsUrl(value: string | undefined, serverHost: string): URL {
  const text = value?.trim() || `wss://${serverHost.includes(':') ? `[${serverHost}]` : serverHost}/edge-tunnel/v1/session`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('--ws-url', `--ws-url ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'wss:') throw new ConfigError('--ws-url', `--ws-url must be wss:// (the session is never sent in clear), got ${url.protocol}`);
  return url;
}
