// Errors of the framing lib. Every error has a stable `code`; protocol errors also carry the wire
// code (`wireCode`) that goes into the RESET or GOAWAY they cause.

/** Wire error codes, carried by RESET and GOAWAY (u32). */
export const ErrorCode = {
  /** graceful: no error */
  NO_ERROR: 0,
  /** malformed frame, wrong id parity, reused id, unexpected frame */
  PROTOCOL_ERROR: 1,
  /** a bug or resource failure on the sender's side */
  INTERNAL_ERROR: 2,
  /** the peer sent more than its credit allowed */
  FLOW_CONTROL_ERROR: 3,
  /** a frame arrived for a stream that is closed */
  STREAM_CLOSED: 4,
  /** a frame larger than the announced maximum */
  FRAME_SIZE_ERROR: 5,
  /** the stream was refused (policy, limits, not allowed target) */
  REFUSED: 6,
  /** the stream is no longer wanted (the caller went away) */
  CANCEL: 7,
  /** a compressed payload that does not decode to its declared length */
  COMPRESSION_ERROR: 8,
  /** too many control frames (PING/SETTINGS/RESET/OPEN floods) */
  FLOOD: 9,
  /** the peer stopped answering keepalive */
  KEEPALIVE_TIMEOUT: 10,
  /** the acceptor could not connect to the stream's target */
  CONNECT_FAILED: 11,
  /** a deadline passed (open timeout, dial timeout, drain deadline) */
  TIMEOUT: 12,
  /** the session is going away and did not take this stream */
  GOING_AWAY: 13,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

const codeNames = new Map<number, ErrorCodeName>(
  Object.entries(ErrorCode).map(([name, value]) => [value, name as ErrorCodeName]),
);

/** The name of a wire error code; unknown codes map to INTERNAL_ERROR (spec: treat as internal). */
export function errorCodeName(value: number): ErrorCodeName {
  return codeNames.get(value) ?? 'INTERNAL_ERROR';
}

/** Base class: `code` is a stable `ERR_FRAMING_*` string. */
export class FramingError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FramingError';
    this.code = code;
  }
}

/** The peer broke the protocol; `wireCode` is sent in the GOAWAY/RESET this causes. */
export class ProtocolError extends FramingError {
  readonly wireCode: ErrorCodeName;
  constructor(wireCode: ErrorCodeName, message: string, options?: { cause?: unknown }) {
    super(`ERR_FRAMING_${wireCode}`, message, options);
    this.name = 'ProtocolError';
    this.wireCode = wireCode;
  }
}

/** A stream ended by RESET (sent by the peer, or by us on its behalf). */
export class StreamResetError extends FramingError {
  readonly wireCode: ErrorCodeName;
  readonly reason: string;
  readonly remote: boolean;
  constructor(wireCode: ErrorCodeName, reason: string, remote: boolean) {
    super('ERR_FRAMING_STREAM_RESET', `stream reset${remote ? ' by peer' : ''}: ${wireCode}${reason ? ` (${reason})` : ''}`);
    this.name = 'StreamResetError';
    this.wireCode = wireCode;
    this.reason = reason;
    this.remote = remote;
  }
}

/** The session ended (peer gone, GOAWAY deadline, keepalive timeout, local destroy). */
export class SessionClosedError extends FramingError {
  readonly wireCode: ErrorCodeName;
  constructor(wireCode: ErrorCodeName, message: string, options?: { cause?: unknown }) {
    super('ERR_FRAMING_SESSION_CLOSED', message, options);
    this.name = 'SessionClosedError';
    this.wireCode = wireCode;
  }
}
