// The session's side of its socket. The listeners are shared by every session: each finds its
// session on the socket (one property per socket instead of four closures per session).
import type { Duplex } from 'node:stream';
import { SessionClosedError } from './errors.js';

/** What the socket's events call (the session). */
export interface SocketOwner {
  /** bytes from the peer */
  socketData(chunk: Buffer): void;
  /** the socket ended or closed */
  socketGone(reason: string): void;
  destroy(err?: Error): void;
}

const kSession = Symbol('framing session');
type SessionSocket = Duplex & { [kSession]?: SocketOwner };

function onSocketData(this: SessionSocket, chunk: Buffer): void {
  this[kSession]?.socketData(chunk);
}
function onSocketEnd(this: SessionSocket): void {
  this[kSession]?.socketGone('peer closed the connection');
}
function onSocketError(this: SessionSocket, err: Error): void {
  this[kSession]?.destroy(new SessionClosedError('INTERNAL_ERROR', `connection error: ${err.message}`, { cause: err }));
}
function onSocketClose(this: SessionSocket): void {
  this[kSession]?.socketGone('connection closed');
}

/** Routes the socket's data, end, error and close to `owner`. */
export function attachSession(socket: Duplex, owner: SocketOwner): void {
  (socket as SessionSocket)[kSession] = owner;
  socket.on('data', onSocketData);
  socket.on('end', onSocketEnd);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
}
