// Flags with environment fallbacks → AgentConfig. Pure: parseConfig(argv, env) never touches files
// or sockets. The flags are the table in agent-flags.ts (parsed by @edge-tunnel/flags); this file adds
// the rules between flags and the values derived from several (server name, WebSocket URL, proxy).
import { FlagError } from '@edge-tunnel/flags';
import { framingLimitsProblem } from '@edge-tunnel/framing';
import { AGENT_FLAGS, MIN_INITIAL_WINDOW, type AgentFlags } from './agent-flags.js';
import { ConfigError } from './errors.js';
import { NO_REPLICA_CIDRS } from './replica-policy.js';
import { proxyConfig, type ProxyConfig } from './proxy-config.js';

export {
  AGENT_FLAGS,
  DEFAULT_CERT_DIR,
  DEFAULT_RECONNECT_SPREAD_MS,
  DEFAULT_RENEW_BEFORE,
  DEFAULT_SERVER_PORT,
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  LOG_LEVELS,
  parseHostPort,
  type AgentFlags,
  type HostPort,
  type LogLevel,
} from './agent-flags.js';

/** What the agent runs with: the flags, with the server name, WebSocket URL and proxy resolved. */
export interface AgentConfig extends Omit<AgentFlags, 'serverName' | 'wsUrl' | 'proxy' | 'proxyAuthFile' | 'proxyCa' | 'proxyTimeoutMs'> {
  /** TLS SNI and verification name */
  serverName: string;
  /** the WebSocket session endpoint (transport websocket) */
  wsUrl: URL;
  /** HTTP CONNECT proxy for enrollment and every session dial (see proxy-config.ts); absent: direct */
  proxy?: ProxyConfig;
}

/**
 * The initial receive window of each stream: --initial-window while --receive-budget holds
 * `maxStreams` of them, else the budget shared evenly, so every allowed stream can open (a busy one
 * grows its window on demand while the budget has room).
 */
export function initialWindowFor(c: Pick<AgentConfig, 'maxStreams' | 'initialWindow' | 'receiveBudget'>): number {
  return Math.min(c.initialWindow, Math.floor(c.receiveBudget / c.maxStreams));
}

export type ParseResult = { help: true; text: string } | { help: false; config: AgentConfig };

/** The --help text: one entry per flag with its default and env variable. */
export function helpText(): string {
  return AGENT_FLAGS.usage();
}

/** Parses argv (without node and script) with env fallbacks. Throws ConfigError naming the flag. */
export function parseConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): ParseResult {
  let parsed;
  try {
    parsed = AGENT_FLAGS.parse(argv, env);
  } catch (err) {
    throw err instanceof FlagError ? new ConfigError(err.flag, err.message) : err;
  }
  if (parsed.help) return { help: true, text: parsed.usage };
  return { help: false, config: build(parsed.values, env) };
}

function build(f: AgentFlags, env: Record<string, string | undefined>): AgentConfig {
  const { serverName, wsUrl, proxy: proxyFlag, proxyAuthFile, proxyCa, proxyTimeoutMs, ...rest } = f;
  const host = f.server.host;
  const config: AgentConfig = {
    ...rest,
    serverName: serverName ?? host,
    wsUrl: wsUrl ?? new URL(`wss://${host.includes(':') ? `[${host}]` : host}/edge-tunnel/v1/session`),
  };
  if (config.nodeIps.length === 0) throw new ConfigError('--node-ip', `--node-ip is required (or set ${AGENT_FLAGS.env('node-ip')})`);
  credentialFiles(config);
  const proxy = proxyConfig({ proxy: proxyFlag, authFile: proxyAuthFile, caFile: proxyCa, timeoutMs: proxyTimeoutMs }, env);
  if (proxy) config.proxy = proxy;
  if (config.keepaliveTimeoutMs < config.keepaliveIntervalMs) {
    throw new ConfigError(
      '--keepalive-timeout-ms',
      `--keepalive-timeout-ms (${config.keepaliveTimeoutMs}) must be at least --keepalive-interval-ms (${config.keepaliveIntervalMs})`,
    );
  }
  const framing = framingLimitsProblem(config);
  if (framing) throw new ConfigError(framing.flag, framing.message);
  if (config.replicaCidrs.includes(NO_REPLICA_CIDRS) && config.replicaCidrs.length > 1) {
    throw new ConfigError(
      '--replica-cidrs',
      `--replica-cidrs none admits the --server host only: it cannot be combined with CIDRs (${config.replicaCidrs.join(',')})`,
    );
  }
  if (initialWindowFor(config) < MIN_INITIAL_WINDOW) {
    const most = Math.floor(config.receiveBudget / MIN_INITIAL_WINDOW);
    throw new ConfigError(
      '--max-streams',
      `--max-streams (${config.maxStreams}) must be at most ${most}: --receive-budget (${config.receiveBudget}) ÷ the smallest stream window (${MIN_INITIAL_WINDOW})`,
    );
  }
  if (config.backoffMaxMs < config.backoffBaseMs) {
    throw new ConfigError('--backoff-max-ms', `--backoff-max-ms (${config.backoffMaxMs}) must be at least --backoff-base-ms (${config.backoffBaseMs})`);
  }
  return config;
}

/** --cert and --key: both required without a bootstrap token; with one, both or neither. */
function credentialFiles(c: AgentConfig): void {
  const enrolls = c.bootstrapTokenFile !== undefined;
  if (enrolls && (c.certFile === undefined) === (c.keyFile === undefined)) return;
  const missing = c.certFile === undefined ? 'cert' : c.keyFile === undefined ? 'key' : undefined;
  if (missing === undefined) return;
  throw new ConfigError(
    `--${missing}`,
    `--${missing} is required (or set ${AGENT_FLAGS.env(missing)}) unless --bootstrap-token-file is given${enrolls ? ' (then give both --cert and --key, or neither)' : ''}`,
  );
}
