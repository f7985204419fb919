// Errors of the server. Every error has a stable `code` (`ERR_SERVER_*`); `cause` is passed through.

/** Stable error codes of the server. */
export const ServerErrorCode = {
  /** a flag, an environment variable or a config file value is invalid */
  INVALID_CONFIG: 'ERR_SERVER_INVALID_CONFIG',
  /** a listener could not bind its address */
  LISTEN: 'ERR_SERVER_LISTEN',
  /** a certificate, key or CA file could not be read */
  TLS_MATERIAL: 'ERR_SERVER_TLS_MATERIAL',
  /** the port config file could not be read or parsed at startup */
  PORT_CONFIG: 'ERR_SERVER_PORT_CONFIG',
  /** cluster mode: no usable Kubernetes config, or the API refused what startup needs (the CA Secret) */
  KUBERNETES: 'ERR_SERVER_KUBERNETES',
} as const;
export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

export class ServerError extends Error {
  readonly code: ServerErrorCode;
  constructor(code: ServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerError';
    this.code = code;
  }
}
