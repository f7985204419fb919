// Where a resume goes (framing spec §10.4, "Which address"): to the replica's own advertised
// address when the agent may dial it — also for the session it first reached through the load
// balancer — and through the load balancer only when that is all it knows. A redial through the
// load balancer can land on another replica, which refuses OTHER_REPLICA: that refusal is retried
// (through the load balancer again, within the grace); every other refusal, and OTHER_REPLICA from
// a replica's own address, ends the session. Kept apart from resume.ts's redial loop on purpose.
import type { Logger } from 'pino';
import { resume } from '@edge-tunnel/framing';
import { parseHostPort, type HostPort } from './config.js';

/** replica: its advertised address; lb: the --server address (the load balancer) */
export type ResumeVia = 'replica' | 'lb';

export interface ResumeRoute {
  target: HostPort;
  via: ResumeVia;
}

/**
 * The address to redial for a resume: `replicaAddr` (the advertised address of the replica that
 * holds the session, given only when the replica policy admits it) when usable, else `server`.
 */
export function resumeRoute(server: HostPort, replicaAddr: string | undefined): ResumeRoute {
  const direct = replicaAddr === undefined ? undefined : parseHostPort(replicaAddr);
  return direct ? { target: direct, via: 'replica' } : { target: server, via: 'lb' };
}

const routes = new WeakMap<object, ResumeVia>();

/** Notes which way a redialed connection went (the dialer, when it opens one for a resume). */
export function markRoute<T extends object>(socket: T, via: ResumeVia): T {
  routes.set(socket, via);
  return socket;
}

/** The way `socket` was dialed for a resume (undefined: not known, as 'replica'). */
export const routeOf = (socket: object | undefined): ResumeVia | undefined => (socket ? routes.get(socket) : undefined);

/**
 * True (and logged) when the refusal means "the load balancer picked another replica": the caller
 * dials again instead of ending the session.
 */
export function retryElsewhere(err: unknown, socket: object | undefined, log: Logger): boolean {
  if (!(err instanceof resume.ResumeRefusedError) || err.refusal !== 'OTHER_REPLICA' || routeOf(socket) !== 'lb') return false;
  log.info({ code: err.refusal, reason: err.message }, 'resume reached another replica: retrying through the load balancer');
  return true;
}
