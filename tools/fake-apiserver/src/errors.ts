/** Stable error codes thrown by the fake API server's library API (not the HTTP ones). */
export const ErrorCode = {
  /** A resource name that the fake server does not serve (store API misuse). */
  UnknownResource: 'ERR_FAKE_APISERVER_UNKNOWN_RESOURCE',
  /** An object without metadata.name handed to the store. */
  InvalidObject: 'ERR_FAKE_APISERVER_INVALID_OBJECT',
  /** A Kubernetes API error answered to an HTTP client as a v1 Status. */
  Status: 'ERR_FAKE_APISERVER_STATUS',
  /** A command-line flag or seed file the CLI cannot use (src/main.ts exits 2 with the message). */
  BadOptions: 'ERR_FAKE_APISERVER_BAD_OPTIONS',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class: every error thrown by this package carries a stable `code`. */
export class FakeApiServerError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FakeApiServerError';
    this.code = code;
  }
}

/** Status reasons used on the wire, with their HTTP codes (k8s.io/apimachinery metav1.StatusReason). */
export const StatusReason = {
  /** 400: malformed request, body or parameter. */
  BadRequest: 400,
  /** 404: object or path does not exist. */
  NotFound: 404,
  /** 405: verb not supported on this path. */
  MethodNotAllowed: 405,
  /** 406: no representation acceptable to the client. */
  NotAcceptable: 406,
  /** 409: create of an existing name. */
  AlreadyExists: 409,
  /** 409: resourceVersion precondition failed. */
  Conflict: 409,
  /** 410: watch from a compacted resourceVersion. */
  Expired: 410,
  /** 413: request body larger than the limit. */
  RequestEntityTooLarge: 413,
  /** 415: patch type not supported. */
  UnsupportedMediaType: 415,
  /** 422: object or patch semantically invalid. */
  Invalid: 422,
  /** 500: a bug in the fake server. */
  InternalError: 500,
} as const;
export type StatusReason = keyof typeof StatusReason;

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
}

/** The v1 Status object sent for every API error. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** An API error that the HTTP layer turns into a v1 Status with `httpCode`. */
export class StatusError extends FakeApiServerError {
  readonly reason: StatusReason;
  readonly httpCode: number;
  readonly details: StatusDetails | undefined;
  constructor(reason: StatusReason, message: string, details?: StatusDetails) {
    super(ErrorCode.Status, message);
    this.name = 'StatusError';
    this.reason = reason;
    this.httpCode = StatusReason[reason];
    this.details = details;
  }

  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.httpCode,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

/** `configmaps "x" not found`, as kube-apiserver words it. */
export function notFound(resource: string, name: string, group = ''): StatusError {
  return new StatusError('NotFound', `${qualified(resource, group)} "${name}" not found`, details(resource, name, group));
}

export function alreadyExists(resource: string, name: string, group = ''): StatusError {
  return new StatusError('AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, details(resource, name, group));
}

export function conflict(resource: string, name: string, group = ''): StatusError {
  const message =
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ` +
    'the object has been modified; please apply your changes to the latest version and try again';
  return new StatusError('Conflict', message, details(resource, name, group));
}

export function badRequest(message: string): StatusError {
  return new StatusError('BadRequest', message);
}

function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

function details(resource: string, name: string, group: string): StatusDetails {
  return group ? { name, group, kind: resource } : { name, kind: resource };
}
