// Resuming a session whose connection was lost unexpectedly (framing spec §10): redial the same
// server replica (this dialer's address: the replica's advertised one, not the load balancer),
// prove the session's secret over the new connection and let the link replay what the server
// missed. A GOAWAY before the loss, a refused resume or a grace that ran out end the session with
// the reason (its streams end as they did without resumption). The redials race (redial-race.ts): a
// new dial every 250–500 ms while the ones before still wait, so the resume follows the link's return
// within one dial's round trips instead of waiting out a blackholed SYN's retransmissions.
import type { Logger } from 'pino';
import { resume, type Session } from '@edge-tunnel/framing';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AgentMetrics } from './metrics.js';
import { Alpn } from './tls.js';
import { RedialRace, type RedialAttempt } from './redial-race.js';
import { retryElsewhere } from './resume-route.js';
import { RedialFailureLog } from './redial-log.js';
import type { ResumeOffer, WebSocketStream } from './ws-dial.js';

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
  dialer: {
    /** starts one dial of the same replica (the race aborts it when it loses) */
    startRedial(): RedialAttempt;
    readonly isClosing: boolean;
    /** aborted when the dialer closes: the race ends at once */
    readonly closingSignal?: AbortSignal;
  };
  session: Session;
  link: resume.ResumableLink;
  credentials: resume.ResumeCredentials;
  /** why the connection was lost */
  reason: string;
  log: Logger;
  metrics: AgentMetrics;
  serverAddr: string;
  timeoutMs: number;
  /** [0, 1) for the redial cadence's jitter */
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
  // the grace counts from the last byte from the server, as the server counts it (a silent link's
  // verdict comes a keepalive timeout after it); a late verdict still leaves a short window
  const { graceMs } = credentials;
  const silentMs = link.silentMs;
  const graceLeftMs = resume.graceLeftMs(graceMs, silentMs);
  log.warn({ reason: c.reason, graceMs, silentMs, graceLeftMs, streams: session.streams.size }, 'connection lost: resuming the session');
  let lastError = c.reason;
  let race: RedialRace | undefined;
  const failures = new RedialFailureLog(log);
  // the grace ends the session on time even while redials still wait for their handshakes (a
  // blackholed dial takes up to the keepalive timeout), so the reason is the grace, not a later
  // verdict of the session's own keepalive
  const graceTimer = setTimeout(() => {
    race?.stop();
    failures.flush(); // the redials' last failures before the end they led to
    if (!link.destroyed && link.paused)
      end(`no resume within the server's grace of ${graceMs} ms: nothing from the server for ${link.silentMs} ms (${lastError})`);
  }, graceLeftMs);
  const onLinkClose = (): void => race?.stop();
  link.once('close', onLinkClose);
  try {
    while (!link.destroyed && !c.dialer.isClosing) {
      race = new RedialRace({
        start: () => c.dialer.startRedial(),
        onStart: () => metrics.resumes.inc({ result: 'attempted' }),
        onFailure: (failure, attempt) => {
          lastError = failure?.reason ?? `redial of ${attempt.target ?? c.serverAddr} failed`;
          if (failure) failures.failed(failure, attempt.target);
        },
        ...(c.random ? { random: c.random } : {}),
        ...(c.dialer.closingSignal ? { signal: c.dialer.closingSignal } : {}),
      });
      const socket = await race.run();
      race = undefined;
      if (link.destroyed || c.dialer.isClosing || socket === undefined) return void socket?.destroy();
      const offer = resumeOfferOf(socket);
      if (offer === undefined) {
        socket.destroy();
        return end(`server ${c.serverAddr} no longer offers resumption (restarted with --resume-grace-ms 0, or an older version)`);
      }
      try {
        const { replayed } = await resume.resumeLink(link, credentials, socket, offer.identity, offer.binding, c.timeoutMs);
        const pausedMs = Date.now() - lostAt;
        metrics.resumes.inc({ result: 'succeeded' });
        metrics.resumeReplayedBytes.inc(replayed);
        metrics.resumeSeconds.observe(pausedMs / 1000);
        log.info({ pausedMs, replayedBytes: replayed, streams: session.streams.size, redialFailures: failures.total }, 'session resumed');
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
    }
  } finally {
    failures.flush();
    clearTimeout(graceTimer);
    link.off('close', onLinkClose);
    race?.stop();
  }
}
