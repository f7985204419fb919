// Command line and environment → ServerConfig. Pure: no file is read here (TLS material and the port
// config file are read by start()). Every flag has an environment fallback: `--agent-addr` ↔
// `EDGE_TUNNEL_AGENT_ADDR`; flags win over the environment, the environment over defaults. The flags
// are the table in config-flags.ts (parsed by @edge-tunnel/flags); this file adds the rules between
// flags and the values derived from several (capture mode, --verify-kubelet, server id).
import { FlagError } from '@edge-tunnel/flags';
import { framingLimitsProblem } from '@edge-tunnel/framing';
import { isWildcard } from './addr.js';
import { iptablesTargets } from './capture/targets.js';
import { ServerError, ServerErrorCode } from './errors.js';
import { DNS_NAME } from './flag-types.js';
import { CaptureMode, HttpsMode, type ServerConfig, type ServerFlags } from './server-config.js';
import { SERVER_FLAGS } from './config-flags.js';

export { CaptureMode, HttpsMode, type IpPort, type ServerConfig, type ServerFlags } from './server-config.js';
export { DEFAULT_EDGE_SELECTORS, SERVER_FLAGS } from './config-flags.js';

/** `agent-addr` → `EDGE_TUNNEL_AGENT_ADDR` */
export function envName(flag: string): string {
  return SERVER_FLAGS.env(flag);
}

export type ParseResult = { help: true; usage: string } | { help: false; config: ServerConfig };

/** Parses argv (without node and script) with env fallbacks; throws ERR_SERVER_INVALID_CONFIG. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParseResult {
  let parsed;
  try {
    parsed = SERVER_FLAGS.parse(argv, env);
  } catch (err) {
    throw err instanceof FlagError ? invalid(err.message) : err;
  }
  if (parsed.help) return parsed;
  return { help: false, config: checkConfig(parsed.values, env) };
}

/** The --help text: one entry per flag with its default and env variable. */
export function usage(): string {
  return SERVER_FLAGS.usage();
}

function checkConfig(f: ServerFlags, env: Readonly<Record<string, string | undefined>>): ServerConfig {
  const c: ServerConfig = {
    ...f,
    serverId: f.serverId ?? (env['HOSTNAME'] || 'edge-tunnel-server'),
    verifyKubelet: f.verifyKubelet ?? f.kubeletCa !== undefined,
    kubernetes: f.kubernetes || f.kubeconfig !== undefined,
    capture: f.capture ?? (f.kubernetes || f.kubeconfig !== undefined ? CaptureMode.dns : CaptureMode.none),
    ...(env['POD_IP'] ? { podIp: env['POD_IP'] } : {}),
  };
  const passthrough = c.httpsMode === HttpsMode.passthrough;
  if (passthrough) checkPassthrough(f);
  if (c.requireCallerCert && !c.callerCa && !passthrough) {
    throw invalid('--caller-ca is required while --require-caller-cert is true (set --require-caller-cert=false to accept callers without a certificate)');
  }
  if (c.connectRequireCert && (!c.connectAddr || !c.callerCa)) {
    throw invalid('--connect-require-cert needs --connect-addr and --caller-ca (the CA of the caller certificates it accepts)');
  }
  if ((c.kubeletClientCert === undefined) !== (c.kubeletClientKey === undefined)) {
    throw invalid('--kubelet-client-cert and --kubelet-client-key go together');
  }
  if (c.verifyKubelet && !c.kubeletCa) throw invalid('--verify-kubelet needs --kubelet-ca');
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
function checkPassthrough(f: ServerFlags): void {
  const unused = (['kubeletClientCert', 'kubeletClientKey', 'kubeletCa'] as const).filter((k) => f[k] !== undefined).map((k) => SERVER_FLAGS.flagOf(k));
  if (f.verifyKubelet === true) unused.push('--verify-kubelet');
  if (unused.length > 0) {
    throw invalid(
      `${unused.join(', ')} ${unused.length === 1 ? 'is' : 'are'} not used with --https-mode=passthrough: the caller's TLS reaches the kubelet, ` +
        'which verifies the caller itself (and the caller verifies the kubelet); remove them, or use --https-mode=terminate',
    );
  }
}

/** Cluster-mode flags (--kubeconfig implies --kubernetes; capture defaults to dns in a cluster). */
function checkClusterConfig(c: ServerConfig): ServerConfig {
  if (c.peerAddrs.length > 0 && c.advertiseAddr === undefined && isWildcard(c.agentAddr.host)) {
    throw invalid('--peer-addr needs --advertise-addr (or an --agent-addr with a specific host): agents must learn an address that reaches this replica');
  }
  if (!c.kubernetes) return c;
  if (c.configFile !== undefined) {
    throw invalid(`--config cannot be used in cluster mode: the port config comes from ConfigMap ${c.namespace}/${c.portConfigMap} (--port-configmap)`);
  }
  if (c.edgeNodeSelectors.length === 0) throw invalid('--edge-node-selector needs at least one label selector in cluster mode');
  for (const key of [
    'namespace',
    'portConfigMap',
    'dnsConfigMap',
    'internalService',
    'replicaService',
    'leaseName',
    'caSecret',
    'bootstrapTokenSecret',
    'enrollmentsConfigMap',
  ] as const) {
    if (!DNS_NAME.test(c[key]))
      throw invalid(`${SERVER_FLAGS.flagOf(key)} must be a Kubernetes object name (lower-case letters, digits, '-', '.'), got ${JSON.stringify(c[key])}`);
  }
  return c;
}

/** Standalone: iptables capture only (edge IPs from --edge-node-ip and agents); dns needs the API. */
function checkCaptureConfig(c: ServerConfig): ServerConfig {
  if (c.capture === CaptureMode.dns && !c.kubernetes) {
    throw invalid(
      '--capture=dns needs cluster mode (--kubernetes or --kubeconfig): the hosts ConfigMap is served by the cluster DNS; standalone, use --capture=iptables',
    );
  }
  if (c.edgeNodeIps.length > 0 && (c.kubernetes || c.capture !== CaptureMode.iptables)) {
    throw invalid(
      c.kubernetes
        ? '--edge-node-ip is for standalone mode: in cluster mode the edge node addresses come from the Node objects'
        : '--edge-node-ip needs --capture=iptables',
    );
  }
  // a wildcard proxy listener without a DNAT target fails here, before anything binds
  if (c.capture === CaptureMode.iptables) iptablesTargets(c, { https: c.httpsAddr, http: c.httpAddr });
  return c;
}

function invalid(message: string): ServerError {
  return new ServerError(ServerErrorCode.INVALID_CONFIG, message);
}
