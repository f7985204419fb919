// Public API of @edge-tunnel/agent (the CLI is src/main.ts).
export { start, type AgentHandle, type AgentStatus, type AgentDeps } from './start.js';
export {
  parseConfig,
  helpText,
  AGENT_FLAGS,
  DEFAULT_SERVER_PORT,
  DEFAULT_RECONNECT_SPREAD_MS,
  type AgentConfig,
  type AgentFlags,
  type ParseResult,
  type HostPort,
  type LogLevel,
} from './config.js';
export { AllowList, KUBELET_PORTS, normalizeIp, type AllowListOptions, type Verdict } from './allow-list.js';
export { parsePortList, formatPorts, inPorts, type PortRange } from './ports.js';
export { Backoff, fullJitter, backoffCeiling, type BackoffOptions } from './backoff.js';
export { AgentError, AgentErrorCode, ConfigError } from './errors.js';
export { admitReplicas, describePolicy, MAX_REPLICAS, NO_REPLICA_CIDRS, PRIVATE_RANGES, type ReplicaPolicy } from './replica-policy.js';
export { type DialTarget } from './relay.js';
export { type Credentials } from './tls.js';
