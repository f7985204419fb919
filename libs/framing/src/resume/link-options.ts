// The resumable link's options, their defaults and its counters (spec §10), and the keepalive
// timeout of a Session that runs over a link.
export interface LinkOptions {
  /** bytes sent and not yet acknowledged before writes block (the replay buffer's bound) */
  maxUnacked?: number;
  /** link PING cadence on the current socket */
  keepaliveIntervalMs?: number;
  /** no byte on the current socket for max(this, 4 × link RTT) => the socket is lost (pause, resume) */
  keepaliveTimeoutMs?: number;
  /** acknowledge at once after this many received bytes (else in front of the next DATA, PING or PONG record) */
  ackEveryBytes?: number;
  /** > 0: the longest wait of an ACK for a record of ours to ride on; 0 (default): never alone on a timer (spec §10.3) */
  ackDelayMs?: number;
}

export const LINK_DEFAULTS = {
  maxUnacked: 4 * 1024 * 1024,
  keepaliveIntervalMs: 10_000,
  keepaliveTimeoutMs: 30_000,
  ackEveryBytes: 64 * 1024,
  ackDelayMs: 0,
} as const;

/** A late verdict (the grace nearly or all spent by the silence before it) still leaves this long, at most the grace, for a resume. */
export const RESUME_WINDOW_MS = 2_000;

/**
 * How long a link that paused `silentMs` after the last byte from its peer still waits for a resume
 * (spec §10.4, "Grace"). The grace counts from that last byte, not from the verdict: a link silent
 * for the grace is given up whether a reset or the keepalive noticed the loss (a reset comes right
 * after the last byte, a silent link's verdict up to a keepalive timeout later). When the verdict
 * leaves less than min(grace, RESUME_WINDOW_MS), that much is left anyway, so a redial the agent
 * starts at the verdict can still finish (a grace at or below the keepalive timeout would otherwise
 * end every silent link at its verdict, with no chance to resume).
 */
export function graceLeftMs(graceMs: number, silentMs: number): number {
  return Math.max(graceMs - Math.max(0, silentMs), Math.min(graceMs, RESUME_WINDOW_MS));
}

/**
 * The keepalive timeout of a Session over a resumable link (spec §10.4): the link's verdict on a
 * silent connection comes at most `keepaliveTimeoutMs` (and a check period) after its last byte, and
 * the grace ends `graceMs` after that last byte, or graceLeftMs()'s window after the verdict, never
 * later than `graceMs` after the verdict; the session's own verdict comes one keepalive timeout after
 * both, so the end of the grace, with its reason, always comes first.
 */
export function sessionKeepaliveTimeoutMs(keepaliveTimeoutMs: number, graceMs: number): number {
  return Math.min(3_600_000, 2 * keepaliveTimeoutMs + graceMs);
}

export interface LinkStats {
  /** sockets the link ran over (1 + resumes) */
  sockets: number;
  /** bytes sent again after a resume */
  bytesReplayed: number;
  /** session bytes written into the link / received from the peer */
  bytesOut: number;
  bytesIn: number;
  /** bytes held for a possible replay now */
  unacked: number;
  paused: boolean;
  /** when the current pause began (Date.now()), if paused */
  pausedAt: number | undefined;
}
