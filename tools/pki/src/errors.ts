// Errors of the CLI itself. Library failures arrive as PkiError (ERR_PKI_*) and pass through.

export const CliErrorCode = {
  /** Bad command line: unknown command or option, malformed --node, missing --out. Exit status 2. */
  USAGE: 'ERR_PKI_CLI_USAGE',
  /** The output already holds a CA (init) or that agent's certificate (agent); --force replaces it. */
  EXISTS: 'ERR_PKI_CLI_EXISTS',
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}
