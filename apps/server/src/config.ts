// Command line and environment → ServerConfig. Pure: no file is read here (TLS material and the port
// config file are read by start()). Every flag has an environment fallback: `--agent-addr` ↔
// `EDGE_TUNNEL_AGENT_ADDR`. Flags win over the environment, the environment over defaults.
import { parseAddr } from './addr.js';
import type { ListenAddr } from './addr.js';
import { ServerError, ServerErrorCode } from './errors.js';

export interface ServerConfig {
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
  /** serving certificate and key of the agent and HTTPS listeners: a file path or PEM text */
  cert: string;
  key: string;
  /** CA that signs agent certificates (path or PEM) */
  agentCa: string;
  /** CA that signs caller certificates on the HTTPS listener (path or PEM) */
  callerCa?: string;
  requireCallerCert: boolean;
  /** the identity the server presents to kubelets (path or PEM) */
  kubeletClientCert?: string;
  kubeletClientKey?: string;
  /** CA of the kubelet serving certificates, used with verifyKubelet */
  kubeletCa?: string;
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
  logLevel: string;
  /** sent to agents in the hello */
  serverId: string;
}

type Kind = 'addr' | 'string' | 'bool' | 'ms' | 'level';

interface FlagSpec {
  flag: string;
  key: keyof ServerConfig;
  kind: Kind;
  default?: string;
  help: string;
}

/** Every flag, its config key, its default and a one-line description (also the --help text). */
export const FLAGS: readonly FlagSpec[] = [
  { flag: 'agent-addr', key: 'agentAddr', kind: 'addr', default: ':10262', help: 'agent listener (mTLS)' },
  { flag: 'https-addr', key: 'httpsAddr', kind: 'addr', default: ':10263', help: 'HTTPS proxy listener' },
  { flag: 'http-addr', key: 'httpAddr', kind: 'addr', default: ':10264', help: 'HTTP proxy listener' },
  { flag: 'meta-addr', key: 'metaAddr', kind: 'addr', default: '127.0.0.1:10265', help: 'health, metrics and debug listener' },
  { flag: 'connect-addr', key: 'connectAddr', kind: 'addr', help: 'HTTP CONNECT frontend (off unless set)' },
  { flag: 'cert', key: 'cert', kind: 'string', help: 'serving certificate (PEM file), required' },
  { flag: 'key', key: 'key', kind: 'string', help: 'serving key (PEM file), required' },
  { flag: 'agent-ca', key: 'agentCa', kind: 'string', help: 'CA of agent certificates (PEM file), required' },
  { flag: 'caller-ca', key: 'callerCa', kind: 'string', help: 'CA of caller certificates on the HTTPS listener' },
  { flag: 'require-caller-cert', key: 'requireCallerCert', kind: 'bool', default: 'true', help: 'HTTPS callers must present a certificate from --caller-ca' },
  { flag: 'kubelet-client-cert', key: 'kubeletClientCert', kind: 'string', help: 'certificate presented to kubelets' },
  { flag: 'kubelet-client-key', key: 'kubeletClientKey', kind: 'string', help: 'key of --kubelet-client-cert' },
  { flag: 'kubelet-ca', key: 'kubeletCa', kind: 'string', help: 'CA of kubelet serving certificates' },
  { flag: 'verify-kubelet', key: 'verifyKubelet', kind: 'bool', default: 'false', help: 'verify kubelet serving certificates with --kubelet-ca' },
  { flag: 'config', key: 'configFile', kind: 'string', help: 'port config file (YAML/JSON, ConfigMap keys), applied live' },
  { flag: 'config-poll-ms', key: 'configPollMs', kind: 'ms', default: '2000', help: 'stat fallback period of the config file watch' },
  { flag: 'compression', key: 'compression', kind: 'bool', default: 'true', help: 'offer LZ4 compression to agents' },
  { flag: 'keepalive-interval-ms', key: 'keepaliveIntervalMs', kind: 'ms', default: '10000', help: 'PING cadence on agent sessions' },
  { flag: 'keepalive-timeout-ms', key: 'keepaliveTimeoutMs', kind: 'ms', default: '30000', help: 'silent agent declared dead after this' },
  { flag: 'hello-timeout-ms', key: 'helloTimeoutMs', kind: 'ms', default: '10000', help: 'agent must say hello within this' },
  { flag: 'open-timeout-ms', key: 'openTimeoutMs', kind: 'ms', default: '10000', help: 'agent must answer a stream OPEN within this (else 504)' },
  { flag: 'drain-timeout-ms', key: 'drainTimeoutMs', kind: 'ms', default: '5000', help: 'drain deadline for replaced sessions and shutdown' },
  { flag: 'log-level', key: 'logLevel', kind: 'level', default: 'info', help: 'trace, debug, info, warn, error, fatal' },
  { flag: 'server-id', key: 'serverId', kind: 'string', help: 'id sent to agents (default $HOSTNAME)' },
];

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
    const raw = given.get(spec.flag) ?? env[envName(spec.flag)] ?? spec.default;
    if (raw !== undefined && raw !== '') out[spec.key] = convert(spec, raw);
  }
  out['serverId'] ??= env['HOSTNAME'] || 'edge-tunnel-server';
  return { help: false, config: checkConfig(out as unknown as ServerConfig) };
}

function readArgv(argv: readonly string[]): Map<string, string> {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      given.set('help', 'true');
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
    given.set(spec.flag, value);
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
  if ((c.kubeletClientCert === undefined) !== (c.kubeletClientKey === undefined)) {
    throw invalid('--kubelet-client-cert and --kubelet-client-key go together');
  }
  if (c.verifyKubelet && !c.kubeletCa) throw invalid('--verify-kubelet needs --kubelet-ca');
  if (c.keepaliveTimeoutMs < c.keepaliveIntervalMs) {
    throw invalid('--keepalive-timeout-ms must not be shorter than --keepalive-interval-ms');
  }
  return c;
}

function flagOf(key: keyof ServerConfig): string {
  return FLAGS.find((f) => f.key === key)!.flag;
}

function invalid(message: string): ServerError {
  return new ServerError(ServerErrorCode.INVALID_CONFIG, message);
}

/** The --help text: one line per flag with its env variable and default. */
export function usage(): string {
  const lines = FLAGS.map((f) => {
    const left = `  --${f.flag}${f.kind === 'bool' ? '[=bool]' : ' <value>'}`;
    const def = f.default !== undefined ? ` (default ${f.default})` : '';
    return `${left.padEnd(36)}${f.help}${def}\n${''.padEnd(36)}env ${envName(f.flag)}`;
  });
  return ['usage: edge-tunnel-server [flags]', '', 'Certificates, keys and CAs are PEM file paths.', '', ...lines, '  --help', ''].join('\n');
}
