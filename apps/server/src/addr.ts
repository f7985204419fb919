// Listen addresses: `host:port`, `:port` (all interfaces), `[v6]:port`; and binding a server to one.
import type { Server } from 'node:net';
import { ServerError, ServerErrorCode } from './errors.js';

/** A listen address; an empty host means every interface. */
export interface ListenAddr {
  host: string;
  port: number;
}

/** A listen host that is every interface (agents cannot dial it, DNAT cannot target it). */
export function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

/** Parses `host:port`, `:port` or `[v6]:port`; throws ERR_SERVER_INVALID_CONFIG naming `what`. */
export function parseAddr(text: string, what: string): ListenAddr {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ServerError(ServerErrorCode.INVALID_CONFIG, `${what} must be host:port, :port or [ipv6]:port (port 0..65535), got ${JSON.stringify(text)}`);
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/** `host:port` for logs and handles (IPv6 in brackets). */
export function formatAddr(addr: ListenAddr): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** Binds `server` to `addr`; resolves with the bound address (the real port when 0 was asked). */
export function listen(server: Server, addr: ListenAddr, what: string): Promise<ListenAddr> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new ServerError(ServerErrorCode.LISTEN, `${what} cannot listen on ${formatAddr(addr)}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      const bound = server.address();
      if (bound === null || typeof bound === 'string') return resolve(addr);
      resolve({ host: bound.address, port: bound.port });
    };
    if (addr.host === '') server.listen(addr.port, done);
    else server.listen(addr.port, addr.host, done);
  });
}

/** Closes `server` and its idle connections; resolves once it stopped listening. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
