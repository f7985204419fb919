// The agent listener: mutual TLS, one framing Session per agent, identity bound to the certificate,
// registration in the AgentRegistry. Bad certificates and bad hellos are logged, never fatal.
// Connections that negotiate ALPN edge-tunnel-enroll/1 go to the enrollment handler instead.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:tls';
import type { Server, TLSSocket } from 'node:tls';
import { Session } from '@edge-tunnel/framing';
import type { Logger } from '../logger.js';
import { AgentAlpn, createEnrollHandler } from './enroll.js';
import type { Enroller, RateLimit } from './enroll.js';
import type { ServerMetrics } from '../metrics.js';
import { authFailure, checkHello, peerIdentity } from './identity.js';
import type { PeerIdentity } from './identity.js';
import type { AgentRegistry, AgentSession } from './registry.js';
import { ReplicaAnnouncer } from './replicas.js';
import type { ReplicaSource } from './replicas.js';

export interface AgentListenerOptions {
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
  /** signs agent CSRs on ALPN edge-tunnel-enroll/1; absent: enrollment answers 503 */
  enroller?: Enroller;
  /** default 10 enrollment requests per remote address and minute */
  enrollRateLimit?: RateLimit;
  /** the replica set sent in the hello and on each session's control stream; absent: single server */
  replicas?: ReplicaSource;
}

export interface AgentListener {
  server: Server;
  /** every session not yet closed, attached or still saying hello */
  sessions: Set<Session>;
  /** ends every control stream (before GOAWAY, so that drains do not wait for them) */
  endControlStreams(): void;
}

export function createAgentListener(opts: AgentListenerOptions, registry: AgentRegistry, metrics: ServerMetrics, log: Logger): AgentListener {
  const sessions = new Set<Session>();
  // rejectUnauthorized stays off at the TLS layer so that the reason of a rejected certificate can be
  // logged; unauthorized sockets are destroyed below before a single byte is read from them.
  const server = createServer({
    cert: opts.cert, key: opts.key, ca: opts.agentCa, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2',
    ALPNProtocols: [AgentAlpn.SESSION, AgentAlpn.ENROLL],
    // a stalled or half-sent handshake would otherwise hold its socket for Node's default 120 s
    handshakeTimeout: opts.helloTimeoutMs,
  });
  const announcer = opts.replicas ? new ReplicaAnnouncer(opts.replicas) : undefined;
  const enroll = createEnrollHandler({ enroller: opts.enroller, rateLimit: opts.enrollRateLimit, log });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    metrics.sessionEvents.inc({ event: 'rejected' });
    log.warn({ remoteAddress: socket.remoteAddress, code: err.code, reason: err.message.split('\n')[0] }, 'agent tls handshake failed');
    socket.destroy(); // a handshake timeout does not close the socket by itself
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === AgentAlpn.ENROLL) return enroll.handle(socket); // no client certificate needed
    const remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    if (!socket.authorized) {
      const { code, reason } = authFailure(socket);
      metrics.sessionEvents.inc({ event: 'rejected' });
      log.warn({ remoteAddress, code, reason }, 'agent rejected: certificate');
      socket.destroy();
      return;
    }
    void admit(socket, remoteAddress);
  });

  async function admit(socket: TLSSocket, remoteAddress: string): Promise<void> {
    let id: PeerIdentity;
    try {
      id = peerIdentity(socket);
    } catch (err) {
      log.warn({ remoteAddress, reason: `unreadable agent certificate: ${(err as Error).message}` }, 'agent rejected: certificate');
      socket.destroy();
      return;
    }
    const sessionId = randomBytes(6).toString('hex');
    const slog = log.child({ sessionId, remoteAddress });
    const session = new Session(socket, {
      role: 'server',
      hello: { version: 1, serverId: opts.serverId, ...(opts.replicas ? { replicas: opts.replicas.current() } : {}) },
      compression: opts.compression,
      keepaliveIntervalMs: opts.keepaliveIntervalMs,
      keepaliveTimeoutMs: opts.keepaliveTimeoutMs,
      openTimeoutMs: opts.openTimeoutMs,
      logger: slog,
    });
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    const timer = setTimeout(() => session.destroy(new Error(`no hello within ${opts.helloTimeoutMs} ms`)), opts.helloTimeoutMs);
    let hello: Record<string, unknown>;
    try {
      hello = await session.ready;
    } catch (err) {
      slog.warn({ reason: (err as Error).message, certNode: id.commonName }, 'agent left before hello');
      return;
    } finally {
      clearTimeout(timer);
    }
    const checked = checkHello(hello, id);
    if (!checked.ok) {
      metrics.sessionEvents.inc({ event: 'refused' });
      slog.warn({ certNode: id.commonName, helloNode: String(hello['nodeName']), reason: checked.reason }, 'agent refused: identity mismatch');
      session.goAway('REFUSED', checked.reason);
      void session.close(0);
      return;
    }
    register(session, { sessionId, remoteAddress, connectedAt: Date.now(), session, ...checked, nodeIps: checked.nodeIps.length > 0 ? checked.nodeIps : id.ips }, slog);
  }

  function register(session: Session, agent: AgentSession, slog: Logger): void {
    const fields = { nodeName: agent.nodeName, nodeIps: agent.nodeIps, agentVersion: agent.agentVersion };
    let old: AgentSession | undefined;
    try {
      old = registry.attach(agent);
    } catch (err) {
      slog.warn({ ...fields, reason: (err as Error).message }, 'agent refused: bad node name or IP');
      session.goAway('REFUSED', (err as Error).message);
      void session.close(0);
      return;
    }
    metrics.sessionEvents.inc({ event: 'attached' });
    slog.info(fields, 'agent attached');
    if (old !== undefined) {
      metrics.sessionEvents.inc({ event: 'replaced' });
      slog.info({ nodeName: agent.nodeName, oldSessionId: old.sessionId }, 'agent session replaced: draining the old one');
      announcer?.end(old.session);
      old.session.goAway('NO_ERROR', 'replaced by a newer session of the same node');
      void old.session.close(opts.drainTimeoutMs);
    }
    announcer?.announce(session);
    session.once('close', (err?: Error) => {
      const current = registry.detach(agent);
      metrics.sessionEvents.inc({ event: 'closed' });
      slog.info({ nodeName: agent.nodeName, current, reason: err?.message }, 'agent session closed');
    });
  }

  return { server, sessions, endControlStreams: () => announcer?.endAll() };
}
