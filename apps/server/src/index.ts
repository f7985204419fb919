// Public API of the edge-tunnel server.
export { start } from './start.js';
export type { ServerAddresses, ServerHandle, StartOptions } from './start.js';
export { CaptureMode, HttpsMode, DEFAULT_EDGE_SELECTORS, SERVER_FLAGS, envName, parseConfig, usage } from './config.js';
export type { IpPort, ParseResult, ServerConfig, ServerFlags } from './config.js';
export { formatAddr, parseAddr } from './addr.js';
export type { ListenAddr } from './addr.js';
export { ServerError, ServerErrorCode } from './errors.js';
export { AgentRegistry } from './agents/registry.js';
export type { AgentSession, TunnelInfo } from './agents/registry.js';
export { checkHello } from './agents/identity.js';
export { PortAnnouncer } from './agents/port-announcer.js';
export { FilePortConfigSource, StaticPortConfigSource, parseConfigText } from './port-config-source.js';
export type { PortConfigSource, PortConfigState } from './port-config-source.js';
export { RESET_STATUS } from './proxy/http-errors.js';
export type { Failure } from './proxy/http-errors.js';
export type { AuditRecord } from './proxy/audit.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
