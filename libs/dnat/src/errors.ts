// Errors of the dnat lib. Every error has a stable `code` (`ERR_DNAT_*`); tests and callers switch on
// the code, never on the message. Bad ConfigMap entries are not errors: they are reported as
// `RejectedEntry` values by `parsePortConfig` (see reject.ts).

/** Stable error codes thrown by this lib. */
export const DnatErrorCode = {
  /** an IP address that is neither IPv4 nor IPv6 (node table input) */
  INVALID_IP: 'ERR_DNAT_INVALID_IP',
  /** a node name that is not an RFC 1123 subdomain of at most 253 characters */
  INVALID_NODE_NAME: 'ERR_DNAT_INVALID_NODE_NAME',
  /** a null or undefined session passed to `NodeTable.attach` */
  INVALID_SESSION: 'ERR_DNAT_INVALID_SESSION',
  /** a JSON port config (`portConfigFromJSON`) that does not describe a valid config */
  INVALID_PORT_CONFIG: 'ERR_DNAT_INVALID_PORT_CONFIG',
  /** a port set's wire text (`PortSet.parse`) or an agent ports message that is malformed */
  INVALID_PORT_SET: 'ERR_DNAT_INVALID_PORT_SET',
} as const;
export type DnatErrorCode = (typeof DnatErrorCode)[keyof typeof DnatErrorCode];

/** Base class of every error thrown by this lib; `code` is a stable `ERR_DNAT_*` string. */
export class DnatError extends Error {
  readonly code: DnatErrorCode;
  constructor(code: DnatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DnatError';
    this.code = code;
  }
}
