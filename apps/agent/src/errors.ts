// Errors of the agent. Every error has a stable `code` (ERR_AGENT_*); tests assert the code.

export const AgentErrorCode = {
  /** a flag or environment variable has a bad value (exit code 2) */
  CONFIG: 'ERR_AGENT_CONFIG',
  /** a certificate, key or CA file cannot be read */
  CREDENTIALS: 'ERR_AGENT_CREDENTIALS',
  /** enrollment failed: the server refused it (its status, code and reason) or could not be asked */
  ENROLL: 'ERR_AGENT_ENROLL',
  /** the meta listener could not bind */
  META_LISTEN: 'ERR_AGENT_META_LISTEN',
  /** a dial through the HTTP CONNECT proxy failed (ProxyError.failure says how) */
  PROXY: 'ERR_AGENT_PROXY',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** Base class: `code` is a stable `ERR_AGENT_*` string. */
export class AgentError extends Error {
  readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }
}

/** A bad flag or environment variable; `flag` names it (`--server`). */
export class ConfigError extends AgentError {
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(AgentErrorCode.CONFIG, message);
    this.name = 'ConfigError';
    this.flag = flag;
  }
}
