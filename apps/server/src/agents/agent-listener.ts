// The agent listener: mutual TLS, one framing Session per agent, identity bound to the certificate,
// registration in the AgentRegistry. Bad certificates and bad hellos are logged, never fatal.
// Connections that negotiate ALPN edge-tunnel-enroll/1 go to the enrollment handler instead; a client
// that offers ALPN but neither protocol is refused in the handshake. No TLS session tickets. TLS
// handshakes in flight are capped (HandshakePacer): a plain TCP server accepts (TlsFront: a connection
// takes a handshake slot only once its ClientHello is in), the TLS server handshakes.
import { constants, randomBytes } from 'node:crypto';
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { Session, resume } from '@edge-tunnel/framing';
import type { Logger } from '../logger.js';
import type { FramingLimits } from '@edge-tunnel/framing';
import { AgentAlpn, createEnrollHandler } from './enroll.js';
import { createTlsFront } from '../accept/tls-front.js';
import type { TlsFrontStats } from '../accept/tls-front.js';
import { RefusalReporter } from '../accept/refusals.js';
import { HandshakePacer } from './handshake-pacer.js';
import type { PacerStats } from './handshake-pacer.js';
import type { Enroller, RateLimit } from './enroll.js';
import type { ServerMetrics } from '../metrics.js';
import { authFailure, checkHello, peerIdentity } from './identity.js';
import type { PeerIdentity } from './identity.js';
import type { AgentRegistry, AgentResume, AgentSession } from './registry.js';
import { ReplicaAnnouncer } from './replicas.js';
import type { PortAnnouncer } from './port-announcer.js';
import { replacementRefusal } from './replacement.js';
import type { ReplicaSource } from './replicas.js';

/** ALPN protocols of the agent port, in the server's order of preference; a client offering none of them is refused in the handshake. */
const AGENT_PORT_ALPN: readonly string[] = [AgentAlpn.SESSION, AgentAlpn.ENROLL];
/** The same with resumption on: a resuming agent offers RESUME first, and gets it. */
const AGENT_PORT_ALPN_RESUME: readonly string[] = [AgentAlpn.RESUME, ...AGENT_PORT_ALPN];

/** The agent port's protocol for what a client offers; undefined (a fatal TLS alert) when none fits. */
function pickAlpn(offered: string[], log: Logger, resumable: boolean): string | undefined {
  const ours = resumable ? AGENT_PORT_ALPN_RESUME : AGENT_PORT_ALPN;
  const picked = ours.find((p) => offered.includes(p)) ?? (offered.includes(AgentAlpn.RESUME) ? AgentAlpn.SESSION : undefined);
  if (picked === undefined) {
    log.warn({ reason: `the client offered ALPN ${offered.join(', ')}; this port speaks ${ours.join(', ')}` }, 'agent rejected: no common ALPN protocol');
  }
  return picked;
}

/** Everything the flags set (config-flags.ts), nothing defaulted here. */
export interface AgentListenerOptions extends FramingLimits {
  cert: string;
  key: string;
  agentCa: string;
  serverId: string;
  compression: boolean;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  openTimeoutMs: number;
  helloTimeoutMs: number;
  drainTimeoutMs: number;
  /** keep a session whose connection was lost this long for a resume (framing spec §10); 0 or absent: off */
  resumeGraceMs?: number;
  /** TLS handshakes in flight (--max-agent-handshakes) */
  maxAgentHandshakes: number;
  /** connections waiting for a handshake slot (--max-agent-handshake-queue) */
  maxAgentHandshakeQueue: number;
  /** a complete ClientHello must arrive within this (--client-hello-timeout-ms) */
  clientHelloTimeoutMs: number;
  /** connections waiting for their ClientHello (--max-pending-connections) */
  maxPendingConnections: number;
  /** pending connections (accept to handshake end) per source IP; 0 = no cap (--agent-max-pending-per-source) */
  agentMaxPendingPerSource: number;
  /** signs agent CSRs on ALPN edge-tunnel-enroll/1; absent: enrollment answers 503 */
  enroller?: Enroller;
  /** default 10 enrollment requests per remote address and minute */
  enrollRateLimit?: RateLimit;
  /** the replica set sent in the hello and on each session's control stream; absent: single server */
  replicas?: ReplicaSource;
  /** tells agents that follow port config their ports (absent: none is sent) */
  ports?: PortAnnouncer;
}

export interface AgentListener {
  /** the listening socket (TCP: connections are handed to TLS as handshake slots free) */
  server: Server;
  /** TLS handshakes in flight and waiting (for /debug/agent-handshakes) */
  handshakes(): PacerStats & TlsFrontStats;
  /** closes the connections still waiting for a handshake slot (shutdown) */
  dropWaiting(): void;
  /** every session not yet closed, attached or still saying hello */
  sessions: Set<Session>;
  /** ends every control stream (before GOAWAY, so that drains do not wait for them) */
  endControlStreams(): void;
  /** runs a session over a transport another listener authenticated (the WebSocket listener) */
  adopt(socket: Duplex, id: PeerIdentity, remoteAddress: string, transport: AgentTransport): Promise<unknown>;
  /** this server resumes sessions (--resume-grace-ms > 0): the WebSocket listener may pick the resume subprotocol */
  readonly resumes: boolean;
  /**
   * The resume handshake (new resumable session, or resume of a paused one) on a connection another
   * listener authenticated; `binding` is that connection's challenge binding (framing spec §10.6).
   */
  acceptResumable(socket: Duplex, id: PeerIdentity, remoteAddress: string, transport: AgentTransport, binding: Buffer): Promise<void>;
}

/** How an agent's session reached the server. */
export type AgentTransport = 'tls' | 'websocket';

export function createAgentListener(opts: AgentListenerOptions, registry: AgentRegistry, metrics: ServerMetrics, log: Logger): AgentListener {
  const sessions = new Set<Session>();
  const graceMs = opts.resumeGraceMs ?? 0;
  const table =
    graceMs > 0
      ? // issuer: session ids carry this replica's tag, so another replica refuses them OTHER_REPLICA
        new resume.ResumeTable({
          graceMs,
          keepaliveIntervalMs: opts.keepaliveIntervalMs,
          keepaliveTimeoutMs: opts.keepaliveTimeoutMs,
          handshakeTimeoutMs: opts.helloTimeoutMs,
          issuer: opts.serverId,
        })
      : undefined;
  /** per resumable session (by resume id): its history, and the Session over its link */
  const resumable = new Map<string, { info: AgentResume; session?: Session; remoteAddress: string }>();
  // rejectUnauthorized stays off at the TLS layer so that the reason of a rejected certificate can be
  // logged; unauthorized sockets are destroyed below before a single byte is read from them.
  const server = createServer({
    cert: opts.cert,
    key: opts.key,
    ca: opts.agentCa,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    // a callback rather than an ALPNProtocols list: Node copies that list into a pooled Buffer per
    // connection, which pins an 8 KiB pool slab per few idle sessions (perf/README.md)
    ALPNCallback: ({ protocols }) => pickAlpn(protocols, log, table !== undefined),
    // a stalled or half-sent handshake would otherwise hold its socket for Node's default 120 s
    handshakeTimeout: opts.helloTimeoutMs,
    // no session tickets: agents never resume (each connection presents its certificate again), and
    // OpenSSL holds ~15 KiB more per idle mTLS connection after sending TLS 1.3 tickets (perf/README.md)
    secureOptions: constants.SSL_OP_NO_TICKET,
  });
  const report = new RefusalReporter('agent', metrics.tlsRefusals, log);
  const pacer = new HandshakePacer(opts.maxAgentHandshakes, (socket) => server.emit('connection', socket), {
    maxWaiting: opts.maxAgentHandshakeQueue,
    waitTimeoutMs: opts.helloTimeoutMs,
    refused: (socket, reason) => report.refused(reason, socket.remoteAddress),
  });
  metrics.agentHandshakes = () => pacer.stats();
  const front = createTlsFront(
    server,
    {
      // never longer than the handshake deadline a connection would have once in a slot
      clientHelloTimeoutMs: Math.min(opts.clientHelloTimeoutMs, opts.helloTimeoutMs),
      maxPendingConnections: opts.maxPendingConnections,
      maxPendingPerSource: opts.agentMaxPendingPerSource,
    },
    report,
    (socket) => pacer.admit(socket),
  );
  const announcer = opts.replicas ? new ReplicaAnnouncer(opts.replicas) : undefined;
  const enroll = createEnrollHandler({ enroller: opts.enroller, rateLimit: opts.enrollRateLimit, log });
  // every handshake ends in exactly one of 'tlsClientError' and 'secureConnection' (a peer that
  // leaves mid-handshake included: 'socket hang up')
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    pacer.ended();
    metrics.sessionEvents.inc({ event: 'rejected', transport: 'tls' });
    log.warn({ remoteAddress: socket.remoteAddress, code: err.code, reason: err.message.split('\n')[0] }, 'agent tls handshake failed');
    socket.destroy(); // a handshake timeout does not close the socket by itself
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    pacer.ended();
    if (socket.alpnProtocol === AgentAlpn.ENROLL) return enroll.handle(socket); // no client certificate needed
    // join() builds one flat string, held for the session's life; a template literal keeps a cons
    // string of three parts (as proxy/audit.ts callerOf)
    const remoteAddress = [socket.remoteAddress, socket.remotePort].join(':');
    if (!socket.authorized) {
      const { code, reason } = authFailure(socket);
      metrics.sessionEvents.inc({ event: 'rejected', transport: 'tls' });
      log.warn({ remoteAddress, code, reason }, 'agent rejected: certificate');
      socket.destroy();
      return;
    }
    admit(socket, remoteAddress);
  });

  function admit(socket: TLSSocket, remoteAddress: string): void {
    let id: PeerIdentity;
    try {
      id = peerIdentity(socket);
    } catch (err) {
      log.warn({ remoteAddress, reason: `unreadable agent certificate: ${(err as Error).message}` }, 'agent rejected: certificate');
      socket.destroy();
      return;
    }
    if (table !== undefined && socket.alpnProtocol === AgentAlpn.RESUME)
      void acceptResumable(socket, id, remoteAddress, 'tls', resume.connectionBinding(socket));
    else void adopt(socket, id, remoteAddress, 'tls');
  }

  /**
   * A connection that negotiated resumption (the resume ALPN, or the WebSocket resume subprotocol):
   * a new resumable session, or a resume of a paused one. `binding`: the TLS exporter (§10.4) or
   * the WebSocket challenge binding (§10.6).
   */
  async function acceptResumable(socket: Duplex, id: PeerIdentity, remoteAddress: string, transport: AgentTransport, binding: Buffer): Promise<void> {
    if (table === undefined) throw new Error('acceptResumable without --resume-grace-ms');
    let a: resume.Accepted;
    try {
      a = await table.accept(socket, id.commonName, binding);
    } catch (err) {
      log.warn({ remoteAddress, transport, certNode: id.commonName, reason: (err as Error).message }, 'agent left during the resume handshake');
      socket.destroy();
      return;
    }
    if (a.kind === 'new') {
      const rid = a.entry.id;
      // remoteAddress: the connection the link runs over now (a resume may come from another address)
      const held = {
        info: { link: a.entry.link, attempted: 0, succeeded: 0, refused: 0, bytesReplayed: 0, streamsCarried: 0 } as AgentResume,
        remoteAddress,
      } as { info: AgentResume; session?: Session; remoteAddress: string };
      resumable.set(rid, held);
      const link = a.entry.link;
      // silentMs: since the last byte from the agent, where the grace counts from (graceLeftMs: what is left of it)
      link.on('paused', (reason: string) => {
        const silentMs = link.silentMs;
        const fields = {
          nodeName: id.commonName,
          remoteAddress: held.remoteAddress,
          reason,
          graceMs,
          silentMs,
          graceLeftMs: resume.graceLeftMs(graceMs, silentMs),
        };
        log.info(fields, 'agent connection lost: session paused for a resume');
      });
      link.on('error', (err: Error) => {
        if (!(err instanceof resume.ResumeGraceError)) return;
        metrics.resumes.inc({ result: 'expired' });
        log.warn({ nodeName: id.commonName, reason: err.message }, 'agent session ended: resume grace passed');
      });
      link.on('close', () => resumable.delete(rid));
      held.session = await adopt(link, id, remoteAddress, transport, held.info);
      return;
    }
    metrics.resumes.inc({ result: 'attempted' });
    const held = a.entry ? resumable.get(a.entry.id) : undefined;
    if (held) held.info.attempted += 1;
    if (a.kind === 'refused') {
      metrics.resumes.inc({ result: 'refused' });
      metrics.resumeRefusals.inc({ code: a.code });
      if (held) held.info.refused += 1;
      log.warn({ remoteAddress, transport, certNode: id.commonName, code: a.code, reason: a.reason }, 'agent resume refused');
      return;
    }
    const carried = held?.session?.streams.size ?? 0;
    metrics.resumes.inc({ result: 'succeeded' });
    metrics.resumeSeconds.observe(a.pausedMs / 1000);
    metrics.resumeReplayedBytes.inc(a.replayed);
    metrics.resumeStreamsCarried.inc(carried);
    if (held) {
      held.remoteAddress = remoteAddress;
      held.info.succeeded += 1;
      held.info.bytesReplayed += a.replayed;
      held.info.streamsCarried += carried;
      held.info.lastResumeMs = a.pausedMs;
    }
    log.info({ nodeName: id.commonName, remoteAddress, transport, pausedMs: a.pausedMs, replayedBytes: a.replayed, streams: carried }, 'agent session resumed');
  }

  /** A session over `socket` (TLS, or a WebSocket's byte stream) for the agent whose certificate says `id`. */
  async function adopt(socket: Duplex, id: PeerIdentity, remoteAddress: string, transport: AgentTransport, resumeInfo?: AgentResume): Promise<Session> {
    const sessionId = randomBytes(6).toString('hex');
    const slog = log.child({ sessionId, remoteAddress, transport });
    const session = new Session(socket, {
      role: 'server',
      hello: { version: 1, serverId: opts.serverId, ...(opts.replicas ? { replicas: opts.replicas.current() } : {}) },
      compression: opts.compression,
      keepaliveIntervalMs: opts.keepaliveIntervalMs,
      // over a resumable link the link judges a silent connection (and pauses); the session's own
      // verdict waits out the grace too, so it never ends a session the link could still resume
      keepaliveTimeoutMs: resumeInfo ? resume.sessionKeepaliveTimeoutMs(opts.keepaliveTimeoutMs, graceMs) : opts.keepaliveTimeoutMs,
      openTimeoutMs: opts.openTimeoutMs,
      receiveBudget: opts.receiveBudget,
      initialWindow: opts.initialWindow,
      maxWindow: opts.maxWindow,
      maxControlPerSecond: opts.maxControlPerSecond,
      logger: slog,
    });
    sessions.add(session);
    let attached: AgentSession | undefined;
    // 'close' is emitted once: `on` spares the once() wrapper (~0.2 KiB per idle session)
    session.on('close', (err?: Error) => {
      sessions.delete(session);
      announcer?.forget(session);
      if (attached !== undefined) detach(attached, err, slog);
    });
    const timer = setTimeout(() => session.destroy(new Error(`no hello within ${opts.helloTimeoutMs} ms`)), opts.helloTimeoutMs);
    let hello: Record<string, unknown>;
    try {
      hello = await session.ready;
    } catch (err) {
      slog.warn({ reason: (err as Error).message, certNode: id.commonName }, 'agent left before hello');
      return session;
    } finally {
      clearTimeout(timer);
    }
    if (session.destroyed) return session; // ended in the same turn as its hello: its 'close' has run already
    const checked = checkHello(hello, id);
    if (!checked.ok) {
      metrics.sessionEvents.inc({ event: 'refused', transport });
      slog.warn({ certNode: id.commonName, helloNode: String(hello['nodeName']), reason: checked.reason }, 'agent refused: identity mismatch');
      session.goAway('REFUSED', checked.reason);
      void session.close(0);
      return session;
    }
    attached = register(
      session,
      {
        sessionId,
        remoteAddress,
        transport,
        connectedAt: Date.now(),
        session,
        ports: {},
        ...checked,
        nodeIps: checked.nodeIps.length > 0 ? checked.nodeIps : id.ips,
        ...(id.notBefore !== undefined ? { certNotBefore: id.notBefore } : {}),
        ...(id.serial !== undefined ? { certSerial: id.serial } : {}),
        ...(resumeInfo ? { resume: resumeInfo } : {}),
      },
      slog,
    );
    return session;
  }

  /** Attaches the session for its node (draining the one it replaces); undefined when refused. */
  function register(session: Session, agent: AgentSession, slog: Logger): AgentSession | undefined {
    const fields = { nodeName: agent.nodeName, nodeIps: agent.nodeIps, agentVersion: agent.agentVersion, followsPortConfig: session.peerTakesConfig };
    let old: AgentSession | undefined;
    const older = replacementRefusal(registry.get(agent.nodeName), agent);
    const transport = agent.transport ?? 'tls';
    if (older !== undefined) {
      metrics.sessionEvents.inc({ event: 'refused', transport });
      slog.warn({ ...fields, code: 'OLDER_CERTIFICATE', reason: older }, 'agent refused: older certificate than the live session');
      session.goAway('REFUSED', older);
      void session.close(0);
      return undefined;
    }
    try {
      old = registry.attach(agent);
    } catch (err) {
      slog.warn({ ...fields, reason: (err as Error).message }, 'agent refused: bad node name or IP');
      session.goAway('REFUSED', (err as Error).message);
      void session.close(0);
      return undefined;
    }
    metrics.sessionEvents.inc({ event: 'attached', transport });
    slog.info(fields, 'agent attached');
    if (old !== undefined) {
      metrics.sessionEvents.inc({ event: 'replaced', transport: old.transport ?? 'tls' });
      slog.info({ nodeName: agent.nodeName, oldSessionId: old.sessionId }, 'agent session replaced: draining the old one');
      announcer?.end(old.session);
      if (old.resume?.link.paused) {
        // the agent came back with a new session (it restarted): the paused one can never resume
        old.session.destroy(new Error(`the agent of ${agent.nodeName} opened a new session (restarted?): the paused session ${old.sessionId} is not resumed`));
      } else {
        old.session.goAway('NO_ERROR', 'replaced by a newer session of the same node');
        void old.session.close(opts.drainTimeoutMs);
      }
    }
    announcer?.announce(session);
    opts.ports?.attach(agent);
    return agent;
  }

  /** An attached session closed (the one 'close' listener per session, registered in admit()). */
  function detach(agent: AgentSession, err: Error | undefined, slog: Logger): void {
    opts.ports?.detach(agent);
    const current = registry.detach(agent);
    metrics.sessionEvents.inc({ event: 'closed', transport: agent.transport ?? 'tls' });
    slog.info({ nodeName: agent.nodeName, current, reason: err?.message }, 'agent session closed');
  }

  return {
    server: front.server,
    sessions,
    handshakes: () => ({ ...pacer.stats(), ...front.stats() }),
    dropWaiting: () => {
      front.dropWaiting();
      pacer.dropWaiting();
    },
    endControlStreams: () => announcer?.endAll(),
    adopt,
    resumes: table !== undefined,
    acceptResumable,
  };
}
