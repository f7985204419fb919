// What an unauthenticated caller (:10264, CONNECT, or :10263 without a verified certificate) is told
// about a failure: the reason (also in X-Tunnel-Error) and the destination it sent itself, never a
// node name it did not send, a node IP, the agent's own refusal text (it lists the node's allowed
// ports) or the server's limits. The operator's sentence goes on the audit line (`detail`), found by
// the trace id the body names. Authenticated callers on :10263 get the operator's sentence.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Dest } from '@edge-tunnel/dnat';
import { tokenUsers } from './audit.js';
import { connectDest, destOf, isFailure } from './dest.js';
import type { ListenerName } from './context.js';
import type { Failure } from './http-errors.js';
import { callerSentence } from './tunnel-errors.js';

/** Whether the caller of `req` on `listener` may read the operator's sentence: a verified certificate (:10263, mTLS CONNECT) or bearer token (:10263). */
export function mayReadDetails(listener: ListenerName, req: IncomingMessage): boolean {
  return listener !== 'http' && ((req.socket as Partial<TLSSocket>).authorized === true || tokenUsers.has(req));
}

/** `host:port` as the caller wrote it (Host / X-Tunnel-Proxy-Dest, or the CONNECT target), if it parses. */
export function sentBy(listener: ListenerName, req: IncomingMessage): string | undefined {
  return listener === 'connect' ? sentTarget(req.url) : text(destOf(req));
}

/** A CONNECT target (`req.url`) as `host:port`, if it parses. */
export function sentTarget(target: string | undefined): string | undefined {
  return text(connectDest(target));
}

const text = (dest: Dest | Failure): string | undefined => (isFailure(dest) ? undefined : `${dest.host}:${dest.port}`);

/** The failure as the caller sees it, and the operator's sentence when the caller's differs. */
export function callerFailure(f: Failure, detailed: boolean, sent: string | undefined, traceId: string): { shown: Failure; detail?: string } {
  const said = detailed ? undefined : callerSentence(f.reason);
  if (said === undefined) return { shown: f };
  const message = `${sent === undefined ? '' : `${sent}: `}${said} (trace ${traceId}; the reason is on the server's audit line)`;
  return { shown: { ...f, message }, detail: f.message };
}
