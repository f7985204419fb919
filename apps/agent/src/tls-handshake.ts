// Waits for a TLS dial's handshake and names how it failed: before TCP was up the port's error
// (ECONNREFUSED, EHOSTUNREACH…); after, the handshake's (handshake_timeout, handshake_closed), so an
// operator can tell a closed port from a server or proxy that took the connection and said nothing.
import type { TLSSocket } from 'node:tls';
import { ConnectResult } from './metrics.js';
import { describeConnectError } from './tls.js';
import type { Redial } from './redial-race.js';

/** A failed handshake: the `connect failed` line's kind, reason and detail code. */
export interface HandshakeFailure {
  kind: ConnectResult;
  reason: string;
  detail: string;
}

export interface HandshakeWait {
  /** no handshake within this: ETIMEDOUT */
  timeoutMs: number;
  /** the address the reasons name */
  serverAddr: string;
  /** TCP is up already (a proxy's tunnel) */
  tcpUp: boolean;
  /** a redial race's attempt: aborting it destroys the socket and resolves 'aborted' */
  race?: Pick<Redial, 'signal' | 'onTcp'>;
}

export function awaitHandshake(socket: TLSSocket, wait: HandshakeWait): Promise<TLSSocket | HandshakeFailure | 'aborted'> {
  const { timeoutMs, serverAddr, race } = wait;
  let tcpUp = wait.tcpUp;
  socket.once('connect', () => ((tcpUp = true), race?.onTcp()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS handshake within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    const done = (value: TLSSocket | HandshakeFailure | 'aborted'): void => {
      clearTimeout(timer);
      race?.signal.removeEventListener('abort', onAbort);
      socket.off('error', onError).off('close', onClose);
      resolve(value);
    };
    const onAbort = (): void => {
      done('aborted');
      socket.destroy();
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      const { kind, reason } = describeConnectError(err, serverAddr);
      const code = err.code ?? '';
      const detail = !tcpUp ? code : code === 'ETIMEDOUT' ? 'handshake_timeout' : code === 'ECONNRESET' || code === 'EPIPE' ? 'handshake_closed' : code;
      done({ kind, reason, detail });
    };
    const onClose = (): void =>
      done({ kind: ConnectResult.UNREACHABLE, reason: `connection to ${serverAddr} closed during the TLS handshake`, detail: 'handshake_closed' });
    race?.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError).once('close', onClose);
    socket.once('secureConnect', () => done(socket));
  });
}
