// Command line and environment → ServerConfig. Pure: no file is read here (TLS material and the port
// config file are read by start()). Every flag has an environment fallback: `--agent-addr` ↔
// `EDGE_TUNNEL_AGENT_ADDR`. Flags win over the environment, the environment over defaults. The flags
// themselves are in config-flags.ts, the shape of the result in server-config.ts.
import { isIP } from 'node:net';
import { formatAddr, isWildcard, parseAddr } from './addr.js';
import { ServerError, ServerErrorCode } from './errors.js';
import type { Replica } from './agents/replicas.js';
import { iptablesTargets } from './capture/targets.js';
import { framingLimitsProblem } from '@edge-tunnel/framing';
import { parseCallerAllow } from './proxy/caller-auth.js';
import type { ListenerName } from './proxy/context.js';
import { CaptureMode, HttpsMode, type ServerConfig } from './server-config.js';
import { FLAGS, REPEATABLE, type FlagSpec } from './config-flags.js';

export { CaptureMode, HttpsMode, type IpPort, type ServerConfig } from './server-config.js';
export { DEFAULT_EDGE_SELECTORS, FLAGS } from './config-flags.js';

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
    case 'httpsMode':
      if (!Object.hasOwn(HttpsMode, raw)) throw invalid(`${what} must be one of ${Object.keys(HttpsMode).join(', ')}, got ${JSON.stringify(raw)}`);
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
  const passthrough = c.httpsMode === HttpsMode.passthrough;
  if (passthrough) checkPassthrough(c);
  if (c.requireCallerCert && !c.callerCa && !passthrough) {
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

/**
 * --https-mode=passthrough: the kubelet's TLS goes end to end, so a kubelet credential given to the
 * server would be unused; refused rather than kept lying around.
 */
function checkPassthrough(c: ServerConfig): void {
  const unused = (['kubeletClientCert', 'kubeletClientKey', 'kubeletCa'] as const).filter((k) => c[k] !== undefined).map((k) => `--${flagOf(k)}`);
  if (c.verifyKubelet === true) unused.push('--verify-kubelet');
  if (unused.length > 0) {
    throw invalid(`${unused.join(', ')} ${unused.length === 1 ? 'is' : 'are'} not used with --https-mode=passthrough: the caller's TLS reaches the kubelet, ` +
      'which verifies the caller itself (and the caller verifies the kubelet); remove them, or use --https-mode=terminate');
  }
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
