/**
 * The Kubernetes WebSocket channel protocol (`*.channel.k8s.io`) used by exec, attach and
 * port-forward: every binary message starts with one channel byte.
 */

/** Channel numbers of exec and attach streams. */
export const Channel = {
  /** Client to server: the process's stdin. */
  stdin: 0,
  /** Server to client: the process's stdout. */
  stdout: 1,
  /** Server to client: the process's stderr. */
  stderr: 2,
  /** Server to client: the final status (JSON v1 Status from v4; error text before). */
  error: 3,
  /** Client to server: terminal size `{"Width":w,"Height":h}` (from v3). */
  resize: 4,
  /** Client to server: `[255, channel]` closes that channel, e.g. stdin (v5 only). */
  close: 255,
} as const;
export type Channel = (typeof Channel)[keyof typeof Channel];

/** WebSocket subprotocols, newest first; the number is the protocol version. */
export const StreamProtocol = {
  'v5.channel.k8s.io': 5,
  'v4.channel.k8s.io': 4,
  'v3.channel.k8s.io': 3,
  'v2.channel.k8s.io': 2,
  'channel.k8s.io': 1,
} as const;
export type StreamProtocol = keyof typeof StreamProtocol;

/** Subprotocols of WebSocket port-forward (same framing, two channels per port). */
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io'] as const;
export const EXEC_PROTOCOLS = Object.keys(StreamProtocol) as StreamProtocol[];

/**
 * Picks the newest protocol both sides support. Returns '' when the client offers none (the
 * kubelet then speaks plain channel.k8s.io) and undefined when it offers only unknown ones.
 */
export function negotiate(offered: Iterable<string>, supported: readonly string[]): string | undefined {
  const offers = new Set(offered);
  if (offers.size === 0) return '';
  return supported.find((p) => offers.has(p));
}

/** The protocol version of a negotiated subprotocol ('' counts as version 1). */
export function protocolVersion(protocol: string): number {
  return StreamProtocol[protocol as StreamProtocol] ?? 1;
}

/** One message: the channel byte, then the payload. */
export function frame(channel: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = channel;
  data.copy(out, 1);
  return out;
}

/** A v1 Status as the kubelet sends it on the error channel. */
export interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes: { reason: string; message: string }[] };
}

export function successStatus(): Status {
  return { metadata: {}, status: 'Success' };
}

export function exitCodeStatus(command: readonly string[], exitCode: number): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function internalErrorStatus(message: string): Status {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 };
}

/** The error-channel payload for a protocol version: JSON from v4, bare error text before. */
export function encodeStatus(status: Status, version: number): Buffer | undefined {
  if (version >= 4) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? undefined : Buffer.from(status.message ?? 'error');
}

/** Parses a resize message; undefined when it is not `{"Width":n,"Height":n}`. */
export function parseResize(payload: Buffer): { width: number; height: number } | undefined {
  try {
    const size = JSON.parse(payload.toString('utf8')) as { Width?: unknown; Height?: unknown };
    if (Number.isInteger(size.Width) && Number.isInteger(size.Height)) {
      return { width: size.Width as number, height: size.Height as number };
    }
  } catch {
    // not JSON: ignored, like the kubelet does
  }
  return undefined;
}
