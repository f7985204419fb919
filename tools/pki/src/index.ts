export { DEFAULT_CA_COMMON_NAME, DEFAULT_SERVER_DNS, DEFAULT_SERVER_IPS, initPki, issueAgent, parseNodeSpec } from './commands.js';
export type { CommandResult, InitOptions, IssueAgentOptions, NodeSpec } from './commands.js';
export { ExitCode, USAGE, run } from './cli.js';
export type { CliIo } from './cli.js';
export { CliError, CliErrorCode } from './errors.js';
