// Resuming a session whose connection was lost unexpectedly (framing spec §10): redial the same
// server replica (this dialer's address: the replica's advertised one, not the load balancer),
// prove the session's secret over the new connection and let the link replay what the server
// missed. A GOAWAY before the loss, a refused resume or a grace that ran out end the session with
// the reason (its streams end as they did without resumption).
import type { Logger } from 'pino';
import { resume, type Session } from '@edge-tunnel/framing';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AgentMetrics } from './metrics.js';
import { Alpn } from './tls.js';
import { retryElsewhere } from './resume-route.js';
import type { ResumeOffer, WebSocketStream } from './ws-dial.js';

/**
 * Ceiling of the delay between resume attempts, doubled per failed dial up to RESUME_RETRY_MAX_MS;
 * each delay is drawn in [0, ceiling) (full jitter), so a fleet that lost one server at once does not
 * redial it in step. The first attempt goes at once: a blip is over when the next dial connects.
 */
export const RESUME_RETRY_MS = 100;
export const RESUME_RETRY_MAX_MS = 2_000;

/**
 * How a new connection proves a resume, when its server offers resumption: over TLS (ALPN
 * edge-tunnel-resume/1) our certificate's node name and the connection's TLS exporter (§10.4); over
 * WebSocket (subprotocol edge-tunnel-resume.v1) the challenge we signed (§10.6). Undefined: the
 * server does not offer it on this connection.
 */
export function resumeOfferOf(socket: Duplex): ResumeOffer | undefined {
  const ws = (socket as WebSocketStream).resumeOffer;
  if (ws !== undefined) return ws;
  const tls = socket as TLSSocket;
  if (typeof tls.getCertificate !== 'function' || tls.alpnProtocol !== Alpn.RESUME) return undefined;
  const identity = String((tls.getCertificate() as { subject?: { CN?: string } } | null)?.subject?.CN ?? '');
  return { identity, binding: resume.connectionBinding(tls) };
}

export interface ResumeContext {
  dialer: { redial(): Promise<Duplex | undefined>; readonly isClosing: boolean };
  session: Session;
  link: resume.ResumableLink;
  credentials: resume.ResumeCredentials;
  /** why the connection was lost */
  reason: string;
  log: Logger;
  metrics: AgentMetrics;
  serverAddr: string;
  timeoutMs: number;
  /** [0, 1) for the retry jitter */
  random?: () => number;
}

/** Runs until the link resumed or was ended (with the reason). */
export async function resumeSession(c: ResumeContext): Promise<void> {
  const { link, session, credentials, log, metrics } = c;
  const lostAt = Date.now();
  const end = (why: string): void => {
    metrics.resumes.inc({ result: 'failed' });
    log.warn({ reason: why, lost: c.reason }, 'session not resumed: its streams end');
    link.destroy(new Error(why));
  };
  if (session.peerGoingAway) return void link.destroy(new Error(`connection to ${c.serverAddr} lost after the server's GOAWAY (${c.reason}): not resumed`));
  log.warn({ reason: c.reason, graceMs: credentials.graceMs, streams: session.streams.size }, 'connection lost: resuming the session');
  const deadline = lostAt + credentials.graceMs;
  let delay = RESUME_RETRY_MS;
  let lastError = c.reason;
  // the grace ends the session on time even while a redial still waits for its handshake (a
  // blackholed dial takes up to the keepalive timeout), so the reason is the grace, not a later
  // verdict of the session's own keepalive
  const graceTimer = setTimeout(() => {
    if (!link.destroyed && link.paused) end(`no resume within the server's grace of ${credentials.graceMs} ms: ${lastError}`);
  }, credentials.graceMs);
  try {
    while (!link.destroyed && !c.dialer.isClosing) {
      if (Date.now() >= deadline) return end(`no resume within the server's grace of ${credentials.graceMs} ms: ${lastError}`);
      metrics.resumes.inc({ result: 'attempted' });
      const socket = await c.dialer.redial();
      if (link.destroyed || c.dialer.isClosing) return void socket?.destroy();
      const offer = socket === undefined ? undefined : resumeOfferOf(socket);
      if (socket !== undefined && offer === undefined) {
        socket.destroy();
        return end(`server ${c.serverAddr} no longer offers resumption (restarted with --resume-grace-ms 0, or an older version)`);
      }
      if (socket !== undefined && offer !== undefined) {
        try {
          const { replayed } = await resume.resumeLink(link, credentials, socket, offer.identity, offer.binding, c.timeoutMs);
          const pausedMs = Date.now() - lostAt;
          metrics.resumes.inc({ result: 'succeeded' });
          metrics.resumeReplayedBytes.inc(replayed);
          metrics.resumeSeconds.observe(pausedMs / 1000);
          log.info({ pausedMs, replayedBytes: replayed, streams: session.streams.size }, 'session resumed');
          return;
        } catch (err) {
          socket.destroy();
          if (err instanceof resume.ResumeRefusedError && !retryElsewhere(err, socket, log)) {
            metrics.resumes.inc({ result: 'refused' });
            log.warn({ code: err.refusal, reason: err.message }, 'resume refused: its streams end');
            link.destroy(new Error(err.message));
            return;
          }
          lastError = `resume handshake failed: ${(err as Error).message}`;
        }
      } else {
        lastError = `redial of ${c.serverAddr} failed`;
      }
      await new Promise((r) => setTimeout(r, Math.min(Math.floor((c.random ?? Math.random)() * delay), Math.max(0, deadline - Date.now()))));
      delay = Math.min(delay * 2, RESUME_RETRY_MAX_MS);
    }
  } finally {
    clearTimeout(graceTimer);
  }
}
