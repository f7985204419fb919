// A tunnel stream as a socket Node's http.Agent can keep (upstream-pool.ts, HTTP channel): the Agent
// calls setKeepAlive/unref/ref on every socket it keeps and arms setTimeout() on it while idle. A
// stream has no TCP options to set, so those are no-ops; setTimeout is a one-shot timer that emits
// 'timeout' (the Agent destroys an idle socket on it). The pool arms it when the connection goes
// idle and disarms it (setTimeout(0)) when a request takes it, so it measures idle time exactly.
import type { Duplex } from 'node:stream';

const kIdleTimer = Symbol('idleTimer');

type PoolSocket = Duplex & {
  timeout?: number;
  [kIdleTimer]?: NodeJS.Timeout;
  setKeepAlive(): PoolSocket;
  setNoDelay(): PoolSocket;
  ref(): PoolSocket;
  unref(): PoolSocket;
  setTimeout(ms: number): PoolSocket;
};

/** Gives `stream` what http.Agent calls on the sockets it keeps; returns it. */
export function asPoolSocket(stream: Duplex): Duplex {
  const s = stream as PoolSocket;
  s.setKeepAlive = returnThis;
  s.setNoDelay = returnThis;
  s.ref = returnThis;
  s.unref = returnThis;
  s.setTimeout = setIdleTimeout;
  s.once('close', clearIdleTimer);
  return s;
}

function returnThis(this: PoolSocket): PoolSocket {
  return this;
}

function setIdleTimeout(this: PoolSocket, ms: number): PoolSocket {
  clearTimeout(this[kIdleTimer]);
  this.timeout = ms;
  this[kIdleTimer] = ms > 0 ? setTimeout(emitTimeout, ms, this).unref() : undefined;
  return this;
}

function emitTimeout(s: PoolSocket): void {
  s[kIdleTimer] = undefined;
  if (!s.destroyed) s.emit('timeout');
}

function clearIdleTimer(this: PoolSocket): void {
  clearTimeout(this[kIdleTimer]);
  this[kIdleTimer] = undefined;
}
