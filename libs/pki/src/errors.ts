// Every failure this library reports is a PkiError with a stable `code`; tests and callers branch
// on the code, never on the message. The message is a sentence an operator can act on.

export const PkiErrorCode = {
  /** Bad input to an issuing function: name, IP address, validity, key size, missing SANs. */
  INVALID_OPTIONS: 'ERR_PKI_INVALID_OPTIONS',
  /** A private or public key PEM that cannot be read, is not RSA, or does not form a pair. */
  INVALID_KEY: 'ERR_PKI_INVALID_KEY',
  /** A CA bundle that cannot be read, is not a CA certificate, or whose key does not match. */
  INVALID_CA: 'ERR_PKI_INVALID_CA',
  /** A certificate PEM that cannot be parsed. */
  INVALID_CERT: 'ERR_PKI_INVALID_CERT',
  /** A certificate signing request that cannot be parsed or whose signature does not verify. */
  INVALID_CSR: 'ERR_PKI_INVALID_CSR',
  /** Native RSA key generation failed. */
  KEYGEN_FAILED: 'ERR_PKI_KEYGEN_FAILED',
  /** A PEM file that readPemFiles expected does not exist. */
  FILE_NOT_FOUND: 'ERR_PKI_FILE_NOT_FOUND',
  /** Any other file-system failure while reading or writing PEM files. */
  FILE_IO: 'ERR_PKI_FILE_IO',
} as const;
export type PkiErrorCode = (typeof PkiErrorCode)[keyof typeof PkiErrorCode];

export class PkiError extends Error {
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}

/** Runs `fn`; any exception that is not already a PkiError becomes one with `code`. */
export function wrapPki<T>(code: PkiErrorCode, message: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError(code, message, { cause: err });
  }
}
