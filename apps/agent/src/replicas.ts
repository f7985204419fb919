// One session to every server replica. The first dial goes to --server (the load balancer); the
// hello's serverId and replicas say which replica it reached and which others exist; one Dialer per
// other replica dials its advertised address (same credentials and server name). Changes of the set
// arrive on control streams (kind 'replicas', one JSON line per change) and start or stop dialers.
// A dialer started in reaction to a lost session or a control line (events every agent sees at the
// same instant) spreads its first dial over --reconnect-spread-ms; the first dial at start does not.
import type { Session, SocketStream } from '@edge-tunnel/framing';
import type { Logger } from 'pino';
import type { AgentConfig, HostPort } from './config.js';
import { parseHostPort } from './config.js';
import { Dialer } from './dialer.js';
import type { DialerOptions } from './dialer-options.js';
import { LineReader } from './line-reader.js';
import { admitReplicas } from './replica-policy.js';
import { resumeRoute } from './resume-route.js';
import type { Transport } from './transport-choice.js';

/** One server replica as its hello describes it. */
export interface Replica {
  id: string;
  /** host:port of its agent listener */
  addr: string;
}

/** Stream kind of the server's replica-set control stream (never dialed, never allow-listed). */
export const REPLICAS_KIND = 'replicas';

export interface SessionInfo {
  replicaId: string;
  addr: string;
  /** lb: the session dialed through --server; direct: dialed at the replica's advertised address */
  via: 'lb' | 'direct';
  /** tls or websocket (with --transport auto: what the dialer chose) */
  transport: Transport;
  openStreams: number;
}

export type ManagerOptions = Omit<DialerOptions, 'onUp' | 'onDown' | 'reconnect' | 'onStream'> & {
  onStream: (stream: SocketStream) => void;
};

/** Replicas of a hello or control line; undefined when absent or malformed (a single server). */
export function parseReplicas(value: unknown): Replica[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Replica[] = [];
  for (const r of value as unknown[]) {
    const { id, addr } = (r ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || typeof addr !== 'string') return undefined;
    if (parseHostPort(addr) === undefined) return undefined;
    out.push({ id, addr });
  }
  return out;
}

export class ReplicaManager {
  /** the replica set by address (ids may differ between replicas' views; addresses do not) */
  private known = new Map<string, string>();
  private readonly direct = new Map<string, Dialer>();
  private readonly sessions = new Map<Session, SessionInfo & { session: Session }>();
  private lb: Dialer | undefined;
  /** the replica address the load balancer session serves, while it lasts */
  private lbServes: string | undefined;
  private closed = false;
  /** attempts of dialers that were replaced or stopped */
  private pastAttempts = 0;
  /** the refused addresses of the last list, so that a repeated list warns once */
  private lastRefused = '';
  private readonly log: Logger;

  constructor(private readonly opts: ManagerOptions) {
    this.log = opts.log;
  }

  start(): void {
    this.startLb(false);
  }

  /** Sessions up, one per replica. */
  list(): SessionInfo[] {
    return [...this.sessions.values()].map(({ session, ...info }) => ({ ...info, openStreams: session.streams.size }));
  }

  /** The open streams of every session up. */
  *streams(): Iterable<unknown> {
    for (const session of this.sessions.keys()) yield* session.streams.values();
  }

  first(): Session | undefined {
    return this.sessions.keys().next().value;
  }

  /** Why there is no session (the last dial error). */
  lastError(): string {
    return this.lb?.lastError || [...this.direct.values()].map((d) => d.lastError).find((e) => e) || 'no session to the server';
  }

  /** connection attempts since start, over every dialer (stopped ones included) */
  attempts(): number {
    return this.pastAttempts + (this.lb?.attempts ?? 0) + [...this.direct.values()].reduce((n, d) => n + d.attempts, 0);
  }

  async close(drainMs: number): Promise<void> {
    this.closed = true;
    await Promise.all([this.lb, ...this.direct.values()].map((d) => d?.close(drainMs)));
  }

  private dialer(target: HostPort, via: 'lb' | 'direct', addr?: string): Dialer {
    // a replica's own address is its agent port: direct dials are TLS (auto's WebSocket endpoint is the ingress's)
    const config: AgentConfig = { ...this.opts.config, server: target, ...(via === 'direct' ? { transport: 'tls' as const } : {}) };
    const log = via === 'lb' ? this.log : this.log.child({ replicaAddr: addr });
    return new Dialer({
      ...this.opts,
      config,
      log,
      onStream: (stream, session) => this.onStream(stream, session),
      onUp: (session) => (via === 'lb' ? this.lbUp(session) : this.directUp(session, addr!)),
      onDown: (session) => this.onDown(session),
      // a resume goes to the replica itself: a direct dialer's own address; the load balancer
      // session's replica at its advertised address once the policy admitted it (else through the LB)
      resumeRoute: () =>
        via === 'direct'
          ? { target, via: 'replica' }
          : resumeRoute(target, this.lbServes !== undefined && this.known.has(this.lbServes) ? this.lbServes : undefined),
      // the load balancer: until the set is known, and again whenever no session is up at all
      ...(via === 'lb' ? { reconnect: () => !this.closed && (this.known.size === 0 || this.sessions.size === 0) } : {}),
    });
  }

  private startLb(spread: boolean): void {
    if (this.closed || (this.lb && !this.lb.finished)) return;
    this.pastAttempts += this.lb?.attempts ?? 0;
    this.lb = this.dialer(this.opts.config.server, 'lb');
    this.lb.start(spread);
  }

  private lbUp(session: Session): void {
    const serverId = session.peerHello!.serverId as string;
    const replicas = parseReplicas(session.peerHello!.replicas);
    const self = replicas?.find((r) => r.id === serverId);
    const transport = this.lb?.transport ?? 'tls';
    if (!replicas || !self || transport === 'websocket') {
      // a single server (no replica set in its hello): the load balancer session is the session.
      // Over WebSocket the ingress is the only way in: replicas' own addresses are not dialed.
      if (replicas && replicas.length > 1 && transport === 'websocket') {
        this.log.warn(
          { replicas: replicas.length, reason: 'over --transport websocket the agent reaches only the replica its ingress picks' },
          'server replicas not dialed: requests that land on another replica get NO_TUNNEL; route each replica its own WebSocket path or run one replica',
        );
      }
      this.track(session, { replicaId: serverId, addr: `${this.opts.config.server.host}:${this.opts.config.server.port}`, via: 'lb', transport });
      return;
    }
    // The server keeps the NEWEST session of a node and drains the older one, so a load-balancer
    // session that lands on a replica we already reach directly replaces the direct one here too
    // (closing the new one instead would leave the node with no session at all).
    const existing = this.direct.get(self.addr);
    if (existing) this.stopDirect(self.addr, this.opts.config.drainTimeoutMs, 'the load-balancer session replaces the direct one');
    this.lbServes = self.addr;
    this.track(session, { replicaId: serverId, addr: self.addr, via: 'lb', transport });
    this.apply(replicas, false);
  }

  private directUp(session: Session, addr: string): void {
    const serverId = session.peerHello!.serverId as string;
    this.track(session, { replicaId: serverId, addr, via: 'direct', transport: 'tls' });
    const replicas = parseReplicas(session.peerHello!.replicas);
    if (replicas) this.apply(replicas, false);
  }

  private track(session: Session, info: Omit<SessionInfo, 'openStreams'>): void {
    this.sessions.set(session, { ...info, openStreams: 0, session });
    this.gauges();
    this.log.info(
      { serverId: info.replicaId, replicaAddr: info.addr, via: info.via, transport: info.transport, sessions: this.sessions.size },
      'replica session up',
    );
  }

  private onDown(session: Session): void {
    const info = this.sessions.get(session);
    this.sessions.delete(session);
    this.gauges();
    if (info?.via === 'lb' && this.lbServes === info.addr) {
      this.lbServes = undefined;
      // the replica the load balancer reached is dialed directly from now on
      if (this.known.has(info.addr)) this.ensureDirect(info.addr, true);
    }
    if (this.known.size === 0 || this.sessions.size === 0) this.startLb(true);
  }

  private gauges(): void {
    const by = { tls: 0, websocket: 0 };
    for (const info of this.sessions.values()) by[info.transport] += 1;
    for (const transport of ['tls', 'websocket'] as const) this.opts.metrics.sessions.set({ transport }, by[transport]);
    this.opts.metrics.sessionUp.set(this.sessions.size > 0 ? 1 : 0);
  }

  /** The replica set changed: dial new replicas, stop dialing (and drain) those that left. */
  private apply(listed: readonly Replica[], spread: boolean): void {
    if (this.closed) return;
    const replicas = this.admit(listed);
    const next = new Map(replicas.map((r) => [r.addr, r.id]));
    const same = next.size === this.known.size && [...next].every(([a, id]) => this.known.get(a) === id);
    this.known = next;
    if (!same) this.log.info({ replicas: replicas.map((r) => `${r.id}@${r.addr}`) }, 'replica set');
    for (const addr of [...this.direct.keys()]) if (!next.has(addr)) this.stopDirect(addr, this.opts.config.drainTimeoutMs);
    if (this.lbServes !== undefined && !listed.some((r) => r.addr === this.lbServes)) {
      for (const [s, info] of this.sessions) if (info.via === 'lb') void s.close(this.opts.config.drainTimeoutMs);
    }
    for (const addr of next.keys()) if (addr !== this.lbServes) this.ensureDirect(addr, spread);
    if (next.size === 0) this.startLb(spread);
  }

  /** The replicas this agent may dial (replica-policy.ts); each refused one is a warn line, once per list. */
  private admit(listed: readonly Replica[]): Replica[] {
    const { replicas, refused } = admitReplicas(listed, {
      serverHost: this.opts.config.server.host,
      serverPort: this.opts.config.server.port,
      cidrs: this.opts.config.replicaCidrs,
    });
    const key = refused.map((r) => r.addr).join(' ');
    if (refused.length > 0 && key !== this.lastRefused) {
      this.log.warn(
        { refused: refused.length, listed: listed.length, replicaAddr: refused[0]!.addr, reason: refused[0]!.reason },
        'replica addresses refused: not dialed',
      );
    }
    this.lastRefused = key;
    return replicas;
  }

  private ensureDirect(addr: string, spread: boolean): void {
    if (this.closed || this.direct.has(addr)) return;
    const d = this.dialer(parseHostPort(addr)!, 'direct', addr);
    this.direct.set(addr, d);
    d.start(spread);
  }

  private stopDirect(addr: string, drainMs: number, reason = 'replica left the set'): void {
    const d = this.direct.get(addr);
    if (!d) return;
    this.direct.delete(addr);
    this.log.info({ replicaAddr: addr, reason }, 'closing the direct session to a replica');
    this.pastAttempts += d.attempts;
    void d.close(drainMs);
  }

  private onStream(stream: SocketStream, session: Session): void {
    if (stream.meta.kind !== REPLICAS_KIND) return this.opts.onStream(stream);
    stream.accept();
    // we never write: the reader's readable side ends at once, so drains never wait for us
    const lines = new LineReader(
      (line) => this.controlLine(line, session),
      65_536,
      () => stream.reset('PROTOCOL_ERROR', 'replica control line too long'),
    );
    stream.attach(lines);
  }

  private controlLine(line: string, session: Session): void {
    let replicas: Replica[] | undefined;
    try {
      replicas = parseReplicas((JSON.parse(line) as { replicas?: unknown }).replicas);
    } catch {
      replicas = undefined;
    }
    if (!replicas) return this.log.warn({ serverId: session.peerHello?.serverId, reason: line.slice(0, 200) }, 'bad replica control line');
    if (this.sessions.has(session)) this.apply(replicas, true);
  }
}
