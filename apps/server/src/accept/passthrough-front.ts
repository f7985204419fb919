// The accepting side of the HTTPS listener in passthrough mode: a plain TCP server (paused accepts,
// Nagle off), the ClientHelloGate (idle connections closed within --client-hello-timeout-ms, at most
// --max-pending-connections waiting), then the rest of a ClientHello that spans records, parsed
// without terminating TLS (client-hello-sni.ts). The whole hello goes to `route` with its server
// name; what is no ClientHello is refused there too (a decode_error alert, an audit line).
import { createServer as createTcpServer } from 'node:net';
import type { Socket } from 'node:net';
import { ClientHelloGate } from './client-hello-gate.js';
import { parseClientHello } from './client-hello-sni.js';
import type { RefusalReporter } from './refusals.js';
import { TlsRefusal } from './refusals.js';
import { SourceCaps } from './source-caps.js';
import type { TlsFront, TlsFrontOptions } from './tls-front.js';

export interface PassthroughHandlers {
  /** a whole ClientHello arrived (`hello`: every byte read so far); the socket is paused */
  hello(socket: Socket, hello: Buffer, sni: string | undefined): void;
  /** the first record was a handshake record but no ClientHello could be read from it */
  malformed(socket: Socket, reason: string): void;
}

export function createPassthroughFront(opts: TlsFrontOptions, report: RefusalReporter, on: PassthroughHandlers): TlsFront {
  const caps = new SourceCaps(opts.maxPendingPerSource);
  const readers = new Set<Socket>();
  const gate = new ClientHelloGate(
    { timeoutMs: opts.clientHelloTimeoutMs, max: opts.maxPendingConnections },
    (socket) => readHello(socket, opts.clientHelloTimeoutMs, readers, report, on),
    (socket, reason) => report.refused(reason, socket.remoteAddress),
  );
  const server = createTcpServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (socket) => {
    const source = socket.remoteAddress ?? '';
    if (!caps.take(source)) {
      report.refused(TlsRefusal.SOURCE_CAP, source);
      socket.destroy();
      return;
    }
    // the source slot is held until the hello is read (or the connection closes), not for the relay
    let held = true;
    const release = (): void => {
      if (held) caps.release(source);
      held = false;
    };
    socket.once('close', release);
    (socket as Released)[kRelease] = release;
    gate.admit(socket);
  });
  return {
    server,
    stats: () => ({ waitingHello: gate.size + readers.size, sources: caps.sources }),
    dropWaiting: () => {
      gate.dropAll();
      for (const s of readers) s.destroy();
    },
  };
}

const kRelease = Symbol('release source slot');
type Released = Socket & { [kRelease]?: () => void };

/** Reads until the ClientHello is whole (the gate saw its first record); one timer for the rest. */
function readHello(socket: Socket, timeoutMs: number, readers: Set<Socket>, report: RefusalReporter, on: PassthroughHandlers): void {
  readers.add(socket);
  const chunks: Buffer[] = [];
  const timer = setTimeout(() => {
    done();
    report.refused(TlsRefusal.CLIENT_HELLO_TIMEOUT, socket.remoteAddress);
    socket.destroy();
  }, timeoutMs);
  const done = (): void => {
    clearTimeout(timer);
    readers.delete(socket);
    socket.off('readable', onReadable);
    socket.off('error', onError);
    (socket as Released)[kRelease]?.();
  };
  const onError = (): void => {
    done();
    socket.destroy();
  };
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) chunks.push(chunk);
    const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    chunks.length = 0;
    chunks.push(buf);
    const r = parseClientHello(buf);
    if (r.kind === 'partial') return;
    done();
    if (r.kind === 'invalid') return on.malformed(socket, r.reason);
    on.hello(socket, buf, r.sni);
  };
  socket.once('close', () => {
    if (readers.has(socket)) done();
  });
  socket.on('error', onError);
  socket.on('readable', onReadable);
}
