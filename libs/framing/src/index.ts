// Public API of @edge-tunnel/framing. See README.md for the contract and docs/spec.md for the wire.
export { Session, type GoAwayInfo, type PeerSettings } from './session.js';
export type { SessionStats } from './session-stats.js';
export { Stream } from './stream.js';
export { SocketStream, type SocketStreamOwner } from './socket-stream.js';
export { Splice, splice, type SpliceHooks } from './splice.js';
export { corkForTurn } from './cork.js';
export { IdleSweep, type IdleWatched } from './idle-sweep.js';
export { type SessionOptions, type Logger, DEFAULTS as SESSION_DEFAULTS } from './options.js';
export { FRAMING_FLAGS, framingLimitsProblem, type FramingFlag, type FramingLimits } from './limit-flags.js';
export { type OpenMeta, encodeConfig, decodeConfig } from './payloads.js';
export { ErrorCode, errorCodeName, FramingError, FramingErrorCode, ProtocolError, StreamResetError, SessionClosedError, type ErrorCodeName } from './errors.js';
export { FrameType, Flag, Setting, MAX_CONFIG_PAYLOAD, HEADER_SIZE, DEFAULT_MAX_FRAME_SIZE, CODEC_LZ4, PROTOCOL_VERSION } from './constants.js';
export { FrameDecoder, type DecoderSink } from './decoder.js';
export { encodeFrame, readHeader, writeHeader } from './frame.js';
export { describeFrame } from './describe.js';
export * as resume from './resume/index.js';
