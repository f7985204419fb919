// Errors of the capture lib. Every error has a stable `code` (`ERR_CAPTURE_*`); tests and callers
// switch on the code, never on the message. Apply failures are not thrown out of the manager: they are
// logged and kept in `status().lastError` with the same codes.

/** Stable error codes of this lib. */
export const CaptureErrorCode = {
  /** a chain prefix that is not a valid iptables chain name stem (or too long for the longest chain) */
  INVALID_PREFIX: 'ERR_CAPTURE_INVALID_PREFIX',
  /** a listener target that is not an IPv4 address plus a port 1..65535 */
  INVALID_TARGET: 'ERR_CAPTURE_INVALID_TARGET',
  /** a node IP that is neither IPv4 nor IPv6 */
  INVALID_IP: 'ERR_CAPTURE_INVALID_IP',
  /** `iptables-save` / `iptables-restore` (or `ip` for a netns runner) is not installed */
  IPTABLES_MISSING: 'ERR_CAPTURE_IPTABLES_MISSING',
  /** `iptables-save -t nat` failed, so the current state could not be read */
  SAVE_FAILED: 'ERR_CAPTURE_SAVE_FAILED',
  /** `iptables-restore --noflush` rejected the rules (nothing changed: the transaction is atomic) */
  APPLY_FAILED: 'ERR_CAPTURE_APPLY_FAILED',
  /** removing the rules on `stop()` failed */
  REMOVE_FAILED: 'ERR_CAPTURE_REMOVE_FAILED',
} as const;
export type CaptureErrorCode = (typeof CaptureErrorCode)[keyof typeof CaptureErrorCode];

/** Base class of every error of this lib; `code` is a stable `ERR_CAPTURE_*` string. */
export class CaptureError extends Error {
  readonly code: CaptureErrorCode;
  /** stderr of the failed command, trimmed ('' when no command was involved) */
  readonly stderr: string;
  constructor(code: CaptureErrorCode, message: string, options?: { cause?: unknown; stderr?: string }) {
    super(message, options);
    this.name = 'CaptureError';
    this.code = code;
    this.stderr = options?.stderr ?? '';
  }
}
