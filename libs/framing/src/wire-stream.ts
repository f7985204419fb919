// What every kind of stream shares with its session: the wire state the session and its frame sink
// read and write (`WireStream`), what a stream needs from its session (`StreamHost`), the lifecycle
// both kinds run the same way (accept, RESET either way, done once both FINs crossed), and the send
// side (`Outbox`: bytes queued by the local end go out as DATA frames within the peer's credit, with
// a FIN after the last). Kinds: `Stream` (a Duplex) and `SocketStream` (wired straight to a local
// socket); each only adds how its local end is told.
import { Flag } from './constants.js';
import { CompressBackoff } from './compress-backoff.js';
import { StreamResetError, errorCodeName, type ErrorCodeName } from './errors.js';
import { creditLeft } from './flow.js';
import type { OpenMeta } from './payloads.js';
import type { FrameWriter, Sendable } from './writer.js';

/** What a stream needs from its session. */
export interface StreamHost {
  readonly sendBuffer: number;
  markReady(stream: WireStream): void;
  /** the consumer made room: maybe grant credit */
  consumedSome(stream: WireStream): void;
  sendOpenOk(stream: WireStream): void;
  sendReset(stream: WireStream, code: ErrorCodeName, reason: string): void;
  /** the stream is finished on the wire (both FINs, or a RESET): drop it */
  forget(stream: WireStream): void;
}

/** The send side of a stream (see `pullFrame`). */
export interface Outbox extends Sendable {
  limit: number;
  sent: number;
  /** @internal bytes waiting for credit, oldest first (`NO_BYTES` while none ever waited) */
  queue: Buffer[];
  /** @internal */
  queued: number;
  compress: boolean;
  /** @internal created on the first frame of a stream that compresses */
  backoff: CompressBackoff | undefined;
}

/** A stream as its session sees it. */
export interface WireStream extends Outbox {
  readonly meta: OpenMeta;
  /** this side opened the stream */
  readonly local: boolean;
  /** the wire code and reason of the RESET that ended the stream, if one did */
  resetCode: ErrorCodeName | undefined;
  resetReason: string | undefined;
  opened: boolean;
  canSend: boolean;
  /** our FIN went out */
  localFin: boolean;
  remoteFin: boolean;
  done: boolean;
  received: number;
  window: number;
  granted: number;
  epochAt: number;
  epochConsumed: number;
  openTimer: NodeJS.Timeout | undefined;
  /** bytes the local end has taken (credit is granted against it) */
  readonly consumed: number;
  /** bytes received and not yet taken by the local end */
  readonly readableLength: number;
  onPeerData(piece: Buffer, flags: number, last: boolean): void;
  onWindow(offset: number): void;
  onPeerReset(code: number, reason: string): void;
  /** OPEN_OK arrived for a stream this side opened (the sink has set `opened`) */
  onOpenOk(): void;
  fail(code: ErrorCodeName, reason: string): void;
  destroy(err?: Error): unknown;
}

// ---- lifecycle ----

/** accept(): OPEN_OK for a stream the peer opened; data queued before it is sent after it. */
export function acceptOpen(s: WireStream, host: StreamHost): void {
  if (s.local || s.opened || s.done) return;
  s.opened = true;
  s.canSend = true;
  host.sendOpenOk(s);
  host.markReady(s);
}

/** The stream ended with a RESET (either way): no frame for it is sent or accepted any more, and the session drops it. */
export function endWithReset(s: WireStream, host: StreamHost, code: ErrorCodeName, reason: string): void {
  s.resetCode = code;
  s.resetReason = reason;
  s.done = true;
  host.forget(s);
}

/** reset(), fail(), destroy(): a RESET from this side ends the stream; false when it had ended already. */
export function resetHere(s: WireStream, host: StreamHost, code: ErrorCodeName, reason: string): boolean {
  if (s.done) return false;
  endWithReset(s, host, code, reason);
  host.sendReset(s, code, reason);
  return true;
}

/** RESET from the peer (the stream is not done): ends it; the error its local end sees (none for NO_ERROR). */
export function resetByPeer(s: WireStream, host: StreamHost, code: number, reason: string): StreamResetError | undefined {
  const name = errorCodeName(code);
  endWithReset(s, host, name, reason);
  return name === 'NO_ERROR' ? undefined : new StreamResetError(name, reason, true);
}

/** Both FINs crossed: the stream is done and the session drops it; true when this call finished it. */
export function doneIfBothFins(s: WireStream, host: StreamHost): boolean {
  if (!s.localFin || !s.remoteFin || s.done) return false;
  s.done = true;
  host.forget(s);
  return true;
}

/** Counts `length` bytes of DATA from the peer; the fault to fail the stream with when they break its state or credit. */
export function peerDataFault(s: WireStream, length: number): [ErrorCodeName, string] | undefined {
  if (s.remoteFin) return ['STREAM_CLOSED', 'DATA after FIN'];
  s.received += length;
  if (s.received > s.granted) return ['FLOW_CONTROL_ERROR', `peer sent ${s.received - s.granted} bytes beyond its credit`];
  return undefined;
}

/** WINDOW from the peer: credit up to `offset` (never back). */
export function grantCredit(s: WireStream, host: StreamHost, offset: number): void {
  if (offset <= s.limit) return;
  s.limit = offset;
  host.markReady(s);
}

/** The queue of a stream that never queued a byte: shared, never written (an idle stream holds no array). */
export const NO_BYTES: Buffer[] = Object.freeze([]) as unknown as Buffer[];

export function enqueue(o: Outbox, chunk: Buffer): void {
  if (o.queue === NO_BYTES) o.queue = [];
  o.queue.push(chunk);
  o.queued += chunk.length;
}

/** Whether `o` has bytes it may send now, or a FIN (`finPending`: the local end ended). */
export function hasSendable(o: Outbox, finPending: boolean): boolean {
  if (o.queued > 0) return o.limit > o.sent;
  return finPending;
}

/**
 * Hands at most one DATA frame to the writer: what credit and `maxFrame` allow, with FIN when
 * `finPending` and the queue is then empty (the caller sees that as `queued === 0 && finPending`).
 * Returns the payload bytes taken.
 */
export function pullFrame(o: Outbox, writer: FrameWriter, maxFrame: number, finPending: boolean): number {
  const n = Math.min(maxFrame, creditLeft(o.limit, o.sent), o.queued);
  if (n === 0 && (o.queued > 0 || !finPending)) return 0;
  const pieces = takeBytes(o, n);
  let flags = 0;
  if (o.queued === 0 && finPending) flags |= Flag.FIN;
  if (o.queued > 0 && o.limit === o.sent) flags |= Flag.BLOCKED;
  const tryCompress = shouldCompress(o, n);
  const paid = writer.writeData(o.id, flags, pieces, n, tryCompress);
  if (tryCompress) o.backoff!.note(paid);
  return n;
}

/** Drops what is queued (the stream ended). */
export function dropQueue(o: Outbox): void {
  o.queue = NO_BYTES;
  o.queued = 0;
}

function takeBytes(o: Outbox, n: number): Buffer[] {
  const pieces: Buffer[] = [];
  const queue = o.queue;
  let need = n;
  while (need > 0) {
    const head = queue[0]!;
    if (head.length <= need) {
      pieces.push(head);
      queue.shift();
      need -= head.length;
    } else {
      pieces.push(head.subarray(0, need));
      queue[0] = head.subarray(need);
      need = 0;
    }
  }
  o.queued -= n;
  o.sent += n;
  if (o.queued === 0) o.queue = NO_BYTES; // an idle stream holds no array
  return pieces;
}

/** Compression is tried per frame, less and less often while it does not pay (compress-backoff.ts). */
function shouldCompress(o: Outbox, n: number): boolean {
  if (!o.compress || n < 64) return false;
  o.backoff ??= new CompressBackoff();
  return o.backoff.shouldTry();
}
