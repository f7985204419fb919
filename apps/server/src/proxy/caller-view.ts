// What an unauthenticated caller (:10264, CONNECT, or :10263 without a verified certificate) is told
// about a failure: the reason (also in X-Tunnel-Error) and the destination it sent itself, never a
// node name it did not send, a node IP, the agent's own refusal text (it lists the node's allowed
// ports) or the server's limits. The operator's sentence goes on the audit line (`detail`), found by
// the trace id the body names. Authenticated callers on :10263 get the operator's sentence.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Dest } from '@edge-tunnel/dnat';
import { connectDest, destOf, isFailure } from './dest.js';
import type { ListenerName } from './context.js';
import type { Failure } from './http-errors.js';

/** Reasons whose sentence repeats only what the caller sent, or names configuration keys. */
const ECHOES_CALLER = new Set(['NO_DESTINATION', 'BAD_DESTINATION', 'NODE_UNKNOWN', 'PORT_NOT_CONFIGURED', 'WRONG_CHANNEL', 'CALLER_GONE']);

/** The caller's sentence per reason (anything else: the tunnel could not carry it). */
const SAID: Readonly<Record<string, string>> = {
  NO_TUNNEL: 'its edge node has no connected tunnel agent; retry once the agent connects',
  NODE_NO_ADDRESS: 'its edge node has no known IP; address it by IP',
  STREAM_LIMIT: 'too many streams are open to its edge node; retry later',
  SESSION_GONE: 'the tunnel session to its edge node closed; retry',
  GOING_AWAY: 'the tunnel session to its edge node is going away; retry',
  KEEPALIVE_TIMEOUT: 'the tunnel session to its edge node stopped answering; retry',
  REFUSED: "the edge node's agent refused the target",
  CONNECT_FAILED: "the edge node's agent could not connect to the target",
  TIMEOUT: 'the target did not answer in time',
  POD_LOOKUP_FAILED: 'the node of the pod named by the path could not be looked up; retry',
};

/** Whether the caller of `req` on `listener` may read the operator's sentence: a verified certificate on :10263. */
export function mayReadDetails(listener: ListenerName, req: IncomingMessage): boolean {
  return listener === 'https' && (req.socket as Partial<TLSSocket>).authorized === true;
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
  if (detailed || ECHOES_CALLER.has(f.reason)) return { shown: f };
  const said = SAID[f.reason] ?? 'the tunnel could not carry the request';
  const message = `${sent === undefined ? '' : `${sent}: `}${said} (trace ${traceId}; the reason is on the server's audit line)`;
  return { shown: { ...f, message }, detail: f.message };
}
