// Errors of the kube lib. Every error has a stable `code` (`ERR_KUBE_*`); callers and tests switch on
// the code, never on the message. The message is a sentence an operator can act on; `cause` is kept.
// Informers and watchers never throw to their callers: they log, emit 'error' and retry.

/** Stable error codes thrown by this lib. */
export const KubeErrorCode = {
  /** no usable Kubernetes client configuration (kubeconfig file or in-cluster service account) */
  CONFIG: 'ERR_KUBE_CONFIG',
  /** bad options passed to a constructor or function of this lib */
  INVALID_OPTIONS: 'ERR_KUBE_INVALID_OPTIONS',
  /** the Kubernetes API failed or answered with an unexpected status (retry later) */
  API: 'ERR_KUBE_API',
  /** the CA Secret exists but does not hold a usable CA (tls.crt / tls.key) */
  CA_SECRET: 'ERR_KUBE_CA_SECRET',
  /** enrollment: the bootstrap token matches no key of the bootstrap Secret */
  ENROLL_BAD_TOKEN: 'ERR_KUBE_ENROLL_BAD_TOKEN',
  /** enrollment: no Node object of that name (or not a valid node name) */
  ENROLL_UNKNOWN_NODE: 'ERR_KUBE_ENROLL_UNKNOWN_NODE',
  /** enrollment: the Node matches no edge selector */
  ENROLL_NOT_EDGE_NODE: 'ERR_KUBE_ENROLL_NOT_EDGE_NODE',
  /** enrollment: the token is past its expiration (or its policy cannot be read) */
  ENROLL_TOKEN_EXPIRED: 'ERR_KUBE_ENROLL_TOKEN_EXPIRED',
  /** enrollment: the token names other nodes (`nodes-<id>`) */
  ENROLL_TOKEN_NOT_FOR_NODE: 'ERR_KUBE_ENROLL_TOKEN_NOT_FOR_NODE',
  /** enrollment: the token has enrolled `max-uses` nodes */
  ENROLL_TOKEN_USED_UP: 'ERR_KUBE_ENROLL_TOKEN_USED_UP',
  /** enrollment: the node holds an unexpired certificate; only that certificate renews it */
  ENROLL_ALREADY_ENROLLED: 'ERR_KUBE_ENROLL_ALREADY_ENROLLED',
  /** enrollment: the CSR cannot be parsed or its signature does not verify */
  ENROLL_BAD_CSR: 'ERR_KUBE_ENROLL_BAD_CSR',
  /** enrollment: signing failed for another reason (the node's name or addresses cannot go in a certificate) */
  ENROLL_SIGN_FAILED: 'ERR_KUBE_ENROLL_SIGN_FAILED',
} as const;
export type KubeErrorCode = (typeof KubeErrorCode)[keyof typeof KubeErrorCode];

/** Base class of every error thrown by this lib; `code` is a stable `ERR_KUBE_*` string. */
export class KubeError extends Error {
  readonly code: KubeErrorCode;
  constructor(code: KubeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeError';
    this.code = code;
  }
}

/** The HTTP status of a client-node ApiException (or a watch error), if any. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return httpStatusOf(err) === 404;
}

/** 409: AlreadyExists on create, Conflict (stale resourceVersion) on update. */
export function isConflict(err: unknown): boolean {
  return httpStatusOf(err) === 409;
}

/** A short description of an API failure for logs and messages (status + Status message). */
export function describeApiError(err: unknown): string {
  const status = httpStatusOf(err);
  const body = (err as { body?: unknown } | null)?.body;
  let message: string | undefined;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message;
    } catch {
      message = body.slice(0, 200);
    }
  } else if (body && typeof body === 'object') {
    message = (body as { message?: string }).message;
  }
  message ??= err instanceof Error ? err.message : String(err);
  return status === undefined ? message : `${status}: ${message}`;
}

/** Wraps an API failure as ERR_KUBE_API with `what` (e.g. `read Secret kube-system/x`). */
export function apiError(what: string, err: unknown): KubeError {
  return new KubeError(KubeErrorCode.API, `${what} failed: ${describeApiError(err)}`, { cause: err });
}
