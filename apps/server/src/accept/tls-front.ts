// The accepting side of a TLS listener: a plain TCP server accepts (paused), caps the connections
// pending per source address, holds each in the ClientHelloGate until its first TLS record has
// arrived, and only then hands it to `next` (the TLS server, or the agent port's handshake pacer).
// So connections that never speak TLS cost no handshake slot and no TLS state, and are closed within
// --client-hello-timeout-ms (Node's own default would keep them 120 s). Every refusal is counted and
// logged (rate-limited) by the RefusalReporter. Once through its handshake, a connection cannot
// renegotiate (refuseRenegotiation).
import { createServer as createTcpServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { ClientHelloGate } from './client-hello-gate.js';
import { TlsRefusal } from './refusals.js';
import type { RefusalReporter } from './refusals.js';
import { SourceCaps } from './source-caps.js';

export const DEFAULT_CLIENT_HELLO_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_PENDING_CONNECTIONS = 10_000;

export interface TlsFrontOptions {
  /** a complete ClientHello must arrive within this */
  clientHelloTimeoutMs: number;
  /** connections waiting for their ClientHello; more: the oldest are closed */
  maxPendingConnections: number;
  /** connections of one source IP from accept to handshake end; 0: no cap */
  maxPendingPerSource: number;
}

export interface TlsFrontStats {
  /** connections waiting for their ClientHello */
  waitingHello: number;
  /** source addresses with a pending connection (only counted when a per-source cap is set) */
  sources: number;
}

export interface TlsFront {
  /** the listening socket */
  server: Server;
  stats(): TlsFrontStats;
  /** closes the connections still waiting for their ClientHello (shutdown) */
  dropWaiting(): void;
}

/** The TLS socket's underlying TCP connection (Node keeps it as `_parent` when it wraps a net.Socket). */
function rawOf(socket: TLSSocket): Socket | undefined {
  return (socket as unknown as { _parent?: Socket })._parent;
}

/**
 * TLS 1.2 client-initiated renegotiation is refused: each one is a full handshake (a private-key
 * operation) for a few client bytes, past every accept-path limit. Node then emits
 * ERR_TLS_RENEGOTIATION_DISABLED on the socket; the socket is closed and `refused` called once.
 */
export function refuseRenegotiation(socket: TLSSocket, refused: () => void): void {
  socket.disableRenegotiation();
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ERR_TLS_RENEGOTIATION_DISABLED') return;
    refused();
    socket.destroy();
  });
}

export function createTlsFront(tls: TlsServer, opts: TlsFrontOptions, report: RefusalReporter, next?: (socket: Socket) => void): TlsFront {
  const caps = new SourceCaps(opts.maxPendingPerSource);
  /** pending connections and the source slot each holds (until its handshake ends or it closes) */
  const pending = new Map<Socket, string>();
  const release = (raw: Socket | undefined): void => {
    if (raw === undefined) return;
    const source = pending.get(raw);
    if (source === undefined) return;
    pending.delete(raw);
    caps.release(source);
  };
  const handOn = next ?? ((socket: Socket) => tls.emit('connection', socket));
  const gate = new ClientHelloGate({ timeoutMs: opts.clientHelloTimeoutMs, max: opts.maxPendingConnections }, handOn, (socket, reason) =>
    report.refused(reason, socket.remoteAddress),
  );
  tls.on('secureConnection', (socket: TLSSocket) => {
    release(rawOf(socket));
    refuseRenegotiation(socket, () => report.refused(TlsRefusal.RENEGOTIATION, socket.remoteAddress));
  });
  tls.on('tlsClientError', (_err: Error, socket: TLSSocket) => {
    release(rawOf(socket));
    socket.destroy(); // a handshake timeout does not close the socket by itself
  });
  // noDelay as Node's own http/https servers accept (their net.Server applies it at accept): the
  // TLS server behind this front never sees the accept, and Nagle would hold a response's second
  // write until the caller's delayed ACK (~40 ms per keep-alive request)
  const server = createTcpServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    const source = socket.remoteAddress ?? '';
    if (!caps.take(source)) {
      report.refused(TlsRefusal.SOURCE_CAP, source);
      socket.destroy();
      return;
    }
    if (opts.maxPendingPerSource > 0) {
      pending.set(socket, source);
      socket.once('close', () => release(socket));
    }
    gate.admit(socket);
  });
  return {
    server,
    stats: () => ({ waitingHello: gate.size, sources: caps.sources }),
    dropWaiting: () => gate.dropAll(),
  };
}
