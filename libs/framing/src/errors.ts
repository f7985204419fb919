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

const codeNames = new Map<number, ErrorCodeName>(Object.entries(ErrorCode).map(([name, value]) => [value, name as ErrorCodeName]));

/** The name of a wire error code; unknown codes map to INTERNAL_ERROR (spec: treat as internal). */
export function errorCodeName(value: number): ErrorCodeName {
  return codeNames.get(value) ?? 'INTERNAL_ERROR';
}

/** Stable `code`s of the lib's own errors (`FramingError.code`); a ProtocolError's code is `ERR_FRAMING_<wire code name>`. */
export const FramingErrorCode = {
  /** `open()` on a session that is going away or closed: no new streams */
  SESSION_NOT_OPEN: 'ERR_FRAMING_SESSION_NOT_OPEN',
  /** `open()` beyond the peer's MAX_STREAMS */
  STREAM_LIMIT: 'ERR_FRAMING_STREAM_LIMIT',
  /** the session used up its stream ids (2^31) */
  IDS_EXHAUSTED: 'ERR_FRAMING_IDS_EXHAUSTED',
  /** a session option is out of range */
  INVALID_OPTION: 'ERR_FRAMING_INVALID_OPTION',
  /** a stream ended by RESET (StreamResetError) */
  STREAM_RESET: 'ERR_FRAMING_STREAM_RESET',
  /** the session ended under the stream (SessionClosedError) */
  SESSION_CLOSED: 'ERR_FRAMING_SESSION_CLOSED',
} as const;
export type FramingErrorCode = (typeof FramingErrorCode)[keyof typeof FramingErrorCode] | `ERR_FRAMING_${ErrorCodeName}`;

/** Base class: `code` is one of FramingErrorCode. */
export class FramingError extends Error {
  readonly code: FramingErrorCode;
  constructor(code: FramingErrorCode, message: string, options?: { cause?: unknown }) {
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
    super(FramingErrorCode.STREAM_RESET, `stream reset${remote ? ' by peer' : ''}: ${wireCode}${reason ? ` (${reason})` : ''}`);
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
    super(FramingErrorCode.SESSION_CLOSED, message, options);
    this.name = 'SessionClosedError';
    this.wireCode = wireCode;
  }
}
