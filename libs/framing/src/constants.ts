// Wire constants of the edge-tunnel framing. The byte-level description is docs/spec.md.

/** Every frame starts with this many header bytes: type u8 | flags u8 | reserved u16 | streamId u32 | length u32. */
export const HEADER_SIZE = 12;

/** Header field offsets (big-endian). */
export const Offset = {
  /** u8 frame type */
  TYPE: 0,
  /** u8 flags, meaning depends on the type */
  FLAGS: 1,
  /** u16 reserved, sent as 0, ignored on receipt */
  RESERVED: 2,
  /** u32 stream id (0 for session-level frames) */
  STREAM_ID: 4,
  /** u32 payload length in bytes (always the payload length, so any frame can be skipped) */
  LENGTH: 8,
} as const;

export const FrameType = {
  /** stream bytes; flags FIN, COMPRESSED, BLOCKED */
  DATA: 0x0,
  /** absolute receive-credit offset for a stream (u64) */
  WINDOW: 0x1,
  /** opens a stream; payload is JSON metadata (target, kind, trace id, compress) */
  OPEN: 0x2,
  /** the acceptor took the stream */
  OPEN_OK: 0x3,
  /** aborts a stream: u32 error code + UTF-8 reason */
  RESET: 0x4,
  /** keepalive and RTT probe: 8 opaque bytes echoed back with ACK */
  PING: 0x5,
  /** no new streams: u32 last accepted peer stream id + u32 code + UTF-8 reason */
  GOAWAY: 0x6,
  /** session parameters (and, in the first one, the hello JSON); ACK flag acknowledges */
  SETTINGS: 0x7,
  /** session-level JSON config message; sent only to a peer that announced the CONFIG setting */
  CONFIG: 0x8,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const Flag = {
  /** DATA: the sender will write no more on this stream (half-close) */
  FIN: 0x1,
  /** DATA: payload is u32 raw length + one LZ4 block */
  COMPRESSED: 0x2,
  /** DATA: the sender ran out of credit with more to send (lets the receiver grow the window) */
  BLOCKED: 0x4,
  /** PING, SETTINGS: this frame acknowledges the peer's */
  ACK: 0x1,
} as const;

/** SETTINGS identifiers (u16 id, u32 value pairs). */
export const Setting = {
  /** largest frame payload the sender accepts */
  MAX_FRAME_SIZE: 0x1,
  /** initial per-stream receive window the sender grants */
  INITIAL_WINDOW: 0x2,
  /** concurrent streams the sender lets its peer open */
  MAX_STREAMS: 0x3,
  /** bitmask of codecs the sender can decode (CODEC_LZ4) */
  CODECS: 0x4,
  /** the sender's keepalive interval in ms (informational) */
  KEEPALIVE_MS: 0x5,
  /** protocol version the sender speaks */
  VERSION: 0x6,
  /** largest CONFIG payload the sender accepts; absent or 0: it takes no CONFIG frames */
  CONFIG: 0x7,
} as const;
export type Setting = (typeof Setting)[keyof typeof Setting];

/** CODECS bit for LZ4 block compression. */
export const CODEC_LZ4 = 0x1;

/** Protocol version carried in SETTINGS. */
export const PROTOCOL_VERSION = 1;

/** Default largest payload: header + payload = 16 384 bytes, exactly one TLS record. */
export const DEFAULT_MAX_FRAME_SIZE = 16_372;
/** Smallest max frame size a peer may announce. */
export const MIN_MAX_FRAME_SIZE = 1_024;
/** Largest max frame size a peer may announce (16 MiB). */
export const MAX_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Control payloads (OPEN metadata, RESET/GOAWAY reasons, SETTINGS with hello) are capped at this. */
export const MAX_CONTROL_PAYLOAD = 16 * 1024;
/** Largest CONFIG payload a session that takes CONFIG frames accepts (announced in SETTINGS CONFIG). */
export const MAX_CONFIG_PAYLOAD = 64 * 1024;
/** RESET and GOAWAY reasons are truncated to this many bytes. */
export const MAX_REASON_BYTES = 1024;
/** Largest stream id (u32, high bit kept clear). */
export const MAX_STREAM_ID = 0x7fff_ffff;
