// Public API of @edge-tunnel/dnat: pure routing for edge-tunnel.
export { DnatError, DnatErrorCode } from './errors.js';
export { BUILT_IN_PORTS, CHANNEL_LISTENER_PORT, CONFIG_KEYS, CONFIG_MAP, Channel, ConfigKey, Ports, TUNNEL_PORTS, isPortNumber } from './constants.js';
export { normalizeIp, normalizeNodeName } from './ip.js';
export { RejectCode } from './reject.js';
export type { DnatRejectCode, RejectedEntry } from './reject.js';
export { parsePortConfig } from './port-config.js';
export type { ParsedPortConfig, PortConfig } from './port-config.js';
export { EMPTY_PORT_CONFIG, channelOf, diffPortConfig, isLocalhostPort, portConfigFromJSON, portConfigToData, portConfigToJSON } from './port-config-ops.js';
export type { PortChange, PortConfigDiff, PortConfigJSON } from './port-config-ops.js';
export { NodeTable } from './node-table.js';
export type { IpConflict } from './node-table.js';
export type { NodeInfo } from './node-table.js';
export { LOCALHOST, MISS_STATUS, MissReason, resolve } from './resolve.js';
export type { Miss, Resolution } from './resolve.js';
export { parseDest } from './dest.js';
export type { Dest } from './dest.js';
export { PortSet } from './port-set.js';
export type { PortSpan } from './port-set.js';
export {
  AGENT_PORTS_KIND,
  agentPortsMessage,
  agentPortsOf,
  parseAgentPortsMessage,
  parsePortCeiling,
  portCeilingHello,
  refusedByCeiling,
} from './agent-ports.js';
export type { AgentPorts, AgentPortsMessage, PortCeiling } from './agent-ports.js';
