// Session options, their defaults, and the logger interface the lib accepts (a pino logger fits).
import { DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE } from './constants.js';
import { FramingError, FramingErrorCode } from './errors.js';

/** The subset of a pino logger the lib uses. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SessionOptions {
  /** 'client' opens odd stream ids (the agent, TLS client), 'server' even ids */
  role: 'client' | 'server';
  /** JSON object sent to the peer in our first SETTINGS */
  hello?: Record<string, unknown>;
  /** largest DATA payload we accept (and send, bounded by the peer's) */
  maxFrameSize?: number;
  /** per-stream receive credit granted at open */
  initialWindow?: number;
  /** ceiling for a window grown by auto-tuning */
  maxWindow?: number;
  /**
   * bytes/s a new stream's first window is sized for once the session has a round-trip sample:
   * window = clamp(initialWindow, startRate × smallest RTT, maxWindow), from at most half the receive
   * budget (flow.ts startWindow); 0 = always initialWindow
   */
  startRate?: number;
  /** sum of all stream receive windows this session commits to; bounds what a peer can make us buffer */
  receiveBudget?: number;
  /** concurrent streams the peer may open */
  maxStreams?: number;
  /** bytes a stream queues for sending before its writer sees backpressure */
  sendBuffer?: number;
  /** bytes the session socket may hold unwritten before the writer waits for 'drain' */
  socketBuffer?: number;
  /** PING cadence */
  keepaliveIntervalMs?: number;
  /** no byte from the peer for this long => dead peer, session destroyed */
  keepaliveTimeoutMs?: number;
  /** an OPEN without OPEN_OK or RESET by then is reset with TIMEOUT */
  openTimeoutMs?: number;
  /** PING, SETTINGS, RESET and refused OPEN frames per second before GOAWAY FLOOD */
  maxControlPerSecond?: number;
  /** offer LZ4 (streams opt in with `compress: true` in their OPEN metadata) */
  compression?: boolean;
  /** peer-opened streams are `SocketStream`s, emitted as 'socketStream' (a side that relays every stream to a local socket) */
  socketStreams?: boolean;
  /** take CONFIG frames from the peer (announced in SETTINGS CONFIG; each one is emitted as 'config') */
  config?: boolean;
  logger?: Logger;
}

export type ResolvedOptions = Required<Omit<SessionOptions, 'logger' | 'hello'>> & {
  hello: Record<string, unknown>;
  logger: Logger | undefined;
};

export const DEFAULTS = {
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  initialWindow: 256 * 1024,
  maxWindow: 16 * 1024 * 1024,
  /** 2.5 MiB/s (21 Mbit/s): a weak edge uplink (4G, the 20 Mbit/s delay line) from the first round trip */
  startRate: 2.5 * 1024 * 1024,
  receiveBudget: 256 * 1024 * 1024,
  maxStreams: 1024,
  sendBuffer: 256 * 1024,
  socketBuffer: 64 * 1024,
  keepaliveIntervalMs: 10_000,
  keepaliveTimeoutMs: 30_000,
  openTimeoutMs: 10_000,
  maxControlPerSecond: 1_000,
  compression: false,
  socketStreams: false,
  config: false,
} as const;

/** Smallest stream window (and receive budget) an option may set. */
export const MIN_WINDOW = 1024;
/** Largest stream window: WINDOW and SETTINGS carry it as a positive int32. */
export const MAX_WINDOW = 0x7fff_ffff;
/** Largest control-frame flood limit an option may set. */
export const MAX_CONTROL_PER_SECOND = 1_000_000;

function check(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new FramingError(FramingErrorCode.INVALID_OPTION, `option ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

export function resolveOptions(options: SessionOptions): ResolvedOptions {
  if (options.role !== 'client' && options.role !== 'server') {
    throw new FramingError(FramingErrorCode.INVALID_OPTION, `option role must be 'client' or 'server', got ${String(options.role)}`);
  }
  // every key written out in one literal, so every property sits in the object itself (a spread of
  // the defaults and a filtered copy of the caller's object held ~0.25 KiB more per idle session)
  const o: ResolvedOptions = {
    role: options.role,
    hello: options.hello ?? {},
    logger: options.logger,
    maxFrameSize: options.maxFrameSize ?? DEFAULTS.maxFrameSize,
    initialWindow: options.initialWindow ?? DEFAULTS.initialWindow,
    maxWindow: options.maxWindow ?? DEFAULTS.maxWindow,
    startRate: options.startRate ?? DEFAULTS.startRate,
    receiveBudget: options.receiveBudget ?? DEFAULTS.receiveBudget,
    maxStreams: options.maxStreams ?? DEFAULTS.maxStreams,
    sendBuffer: options.sendBuffer ?? DEFAULTS.sendBuffer,
    socketBuffer: options.socketBuffer ?? DEFAULTS.socketBuffer,
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULTS.keepaliveTimeoutMs,
    openTimeoutMs: options.openTimeoutMs ?? DEFAULTS.openTimeoutMs,
    maxControlPerSecond: options.maxControlPerSecond ?? DEFAULTS.maxControlPerSecond,
    compression: options.compression ?? DEFAULTS.compression,
    socketStreams: options.socketStreams ?? DEFAULTS.socketStreams,
    config: options.config ?? DEFAULTS.config,
  };
  check('maxFrameSize', o.maxFrameSize, MIN_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
  check('initialWindow', o.initialWindow, MIN_WINDOW, MAX_WINDOW);
  check('maxWindow', o.maxWindow, o.initialWindow, MAX_WINDOW);
  check('startRate', o.startRate, 0, Number.MAX_SAFE_INTEGER);
  check('receiveBudget', o.receiveBudget, o.initialWindow, Number.MAX_SAFE_INTEGER);
  check('maxStreams', o.maxStreams, 1, 0x7fff_ffff);
  check('keepaliveIntervalMs', o.keepaliveIntervalMs, 10, 3_600_000);
  check('keepaliveTimeoutMs', o.keepaliveTimeoutMs, o.keepaliveIntervalMs, 3_600_000);
  check('openTimeoutMs', o.openTimeoutMs, 1, 3_600_000);
  check('maxControlPerSecond', o.maxControlPerSecond, 1, MAX_CONTROL_PER_SECOND);
  return o;
}
