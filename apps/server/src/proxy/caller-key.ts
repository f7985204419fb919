// Who asks for a stream, as the stream quotas see it (stream-quota.ts): a verified client certificate
// (:10263, or CONNECT with --connect-require-cert) is an authenticated identity, keyed by its CN, and so
// is a bearer token the API server reviewed (keyed by its user); a
// caller on the CONNECT Unix socket passed the socket file's permissions and is authenticated too;
// anyone else is keyed by the source address and counts against the unauthenticated share.
import type { IncomingMessage } from 'node:http';
import type { ProxyContext } from './context.js';
import { tokenUsers } from './audit.js';
import { callerIdentityOf } from './caller-auth.js';
import type { Caller } from './tunnel.js';

/** The identity kept for callers on the CONNECT Unix socket (they have no address). */
export const UNIX_SOCKET_CALLER = 'unix-socket';

export function streamCaller(ctx: Pick<ProxyContext, 'unixSocket'>, req: IncomingMessage): Caller {
  const id = callerIdentityOf(req);
  if (id !== undefined) return { authenticated: true, caller: `cn:${id.commonName}` };
  const user = tokenUsers.get(req);
  if (user !== undefined) return { authenticated: true, caller: `user:${user}` };
  if (ctx.unixSocket === true) return { authenticated: true, caller: UNIX_SOCKET_CALLER };
  return { authenticated: false, caller: req.socket.remoteAddress ?? 'unknown' };
}
