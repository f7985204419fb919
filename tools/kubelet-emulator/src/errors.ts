/** Stable error codes of the kubelet emulator; tests assert these, not messages. */
export const KubeletEmulatorErrorCode = {
  /** An option is missing, malformed or out of range. */
  BAD_OPTIONS: 'ERR_KUBELET_BAD_OPTIONS',
  /** A listener could not bind its address or port. */
  LISTEN: 'ERR_KUBELET_LISTEN',
  /** appendLog() named a pod or container the node does not run. */
  UNKNOWN_CONTAINER: 'ERR_KUBELET_UNKNOWN_CONTAINER',
} as const;
export type KubeletEmulatorErrorCode = (typeof KubeletEmulatorErrorCode)[keyof typeof KubeletEmulatorErrorCode];

export class KubeletEmulatorError extends Error {
  readonly code: KubeletEmulatorErrorCode;

  constructor(code: KubeletEmulatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeletEmulatorError';
    this.code = code;
  }
}

export function badOptions(message: string): KubeletEmulatorError {
  return new KubeletEmulatorError(KubeletEmulatorErrorCode.BAD_OPTIONS, message);
}
