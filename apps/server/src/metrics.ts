// Prometheus metrics of one server instance (own Registry per start(), so tests and restarts never
// collide on the global registry).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentRegistry } from './agents/registry.js';
import type { PacerStats } from './agents/handshake-pacer.js';

const RTT_QUANTILES = [0.5, 0.99, 1] as const;
/** The `transport` label's values: every series is present for both, 0 included. */
export const TRANSPORTS = ['tls', 'websocket'] as const;

export class ServerMetrics {
  readonly registry = new Registry();
  /** session lifecycle: attached, replaced, closed, refused (identity), rejected (TLS or the WebSocket proof), by transport */
  readonly sessionEvents: Counter<'event' | 'transport'>;
  /** streams opened towards agents by result: opened, refused, connect_failed, timeout, …, and the session's transport */
  readonly streams: Counter<'result' | 'transport'>;
  /** streams refused by the node cap or a quota under it, by listener and quota (proxy/stream-quota.ts) */
  readonly streamRefusals: Counter<'listener' | 'quota'>;
  /** destinations that did not resolve, by miss reason */
  readonly misses: Counter<'reason'>;
  /** payload bytes through streams: in = from agents, out = to agents, by the session's transport */
  readonly bytes: Counter<'direction' | 'transport'>;
  /** proxied request durations by listener and status */
  readonly requestDuration: Histogram<'listener' | 'status'>;
  /** connections TLS listeners closed before their handshake, by listener and reason (accept/refusals.ts) */
  readonly tlsRefusals: Counter<'listener' | 'reason'>;
  /** upstream connections of the HTTPS and HTTP proxies by result: opened (a new stream, + TLS on HTTPS), reused (from the pool) */
  readonly upstreamConnections: Counter<'result'>;
  /** session resumption (--resume-grace-ms): result = attempted, succeeded, refused, expired */
  readonly resumes: Counter<'result'>;
  /** refused resumes by REFUSED code */
  readonly resumeRefusals: Counter<'code'>;
  /** from the loss of a connection to the resume that carried its session on */
  readonly resumeSeconds: Histogram;
  /** bytes the server sent again after resumes */
  readonly resumeReplayedBytes: Counter;
  /** streams open when a session resumed (carried across the new connection) */
  readonly resumeStreamsCarried: Counter;
  /** set by the proxies: idle pooled upstream connections */
  upstreamIdle: (() => number) | undefined;
  /** set by the agent listener: its handshake pacer's counts */
  agentHandshakes: (() => PacerStats) | undefined;

  /** `perNode`: series labelled by node (--metrics-per-node); else only bounded aggregates */
  constructor(agents: AgentRegistry, opts: { perNode?: boolean } = {}) {
    const registers = [this.registry];
    const handshakes = (): PacerStats | undefined => this.agentHandshakes?.();
    new Gauge({
      name: 'edge_tunnel_agent_handshakes',
      help: 'TLS handshakes on the agent port: in flight, and waiting for a slot (--max-agent-handshakes).',
      labelNames: ['state'],
      registers,
      collect() {
        const s = handshakes();
        if (!s) return;
        this.set({ state: 'in_flight' }, s.inFlight);
        this.set({ state: 'waiting' }, s.waiting);
      },
    });
    new Counter({
      name: 'edge_tunnel_agent_handshakes_paced_total',
      help: 'Agent connections that waited for a handshake slot.',
      registers,
      collect() {
        const s = handshakes();
        if (!s) return;
        this.reset();
        this.inc(s.paced);
      },
    });
    new Gauge({
      name: 'edge_tunnel_sessions',
      help: 'Agent sessions attached now, by transport (tls: the agent port; websocket: --agent-ws-addr).',
      labelNames: ['transport'],
      registers,
      collect() {
        const by = { tls: 0, websocket: 0 };
        for (const a of agents.sessions()) by[a.transport ?? 'tls'] += 1;
        for (const transport of TRANSPORTS) this.set({ transport }, by[transport]);
      },
    });
    if (opts.perNode === true) {
      new Gauge({
        name: 'edge_tunnel_session_rtt_seconds',
        help: 'Last keepalive round-trip time per node (--metrics-per-node).',
        labelNames: ['node'],
        registers,
        collect() {
          this.reset();
          for (const a of agents.sessions()) if (a.session.rttMs !== undefined) this.set({ node: a.nodeName }, a.session.rttMs / 1000);
        },
      });
    }
    new Gauge({
      name: 'edge_tunnel_session_rtt_quantile_seconds',
      help: 'Last keepalive round-trip time across sessions: median, p99 and the slowest (quantile 1).',
      labelNames: ['quantile'],
      registers,
      collect() {
        this.reset();
        const rtts = agents
          .sessions()
          .flatMap((a) => (a.session.rttMs !== undefined ? [a.session.rttMs / 1000] : []))
          .sort((a, b) => a - b);
        if (rtts.length === 0) return;
        for (const q of RTT_QUANTILES) this.set({ quantile: String(q) }, rtts[Math.min(rtts.length - 1, Math.ceil(q * rtts.length) - 1)]!);
      },
    });
    new Gauge({
      name: 'edge_tunnel_open_streams',
      help: 'Streams open now, all sessions.',
      registers,
      collect() {
        this.set(agents.sessions().reduce((n, a) => n + a.session.streams.size, 0));
      },
    });
    const upstreamIdle = (): number | undefined => this.upstreamIdle?.();
    new Gauge({
      name: 'edge_tunnel_upstream_idle_connections',
      help: 'Idle pooled upstream connections of the HTTPS and HTTP proxies, all nodes (--upstream-pool-size).',
      registers,
      collect() {
        this.set(upstreamIdle() ?? 0);
      },
    });
    this.upstreamConnections = new Counter({
      name: 'edge_tunnel_upstream_connections_total',
      help: 'Upstream connections of the HTTPS and HTTP proxies: opened (a new stream, and a TLS handshake over it on HTTPS) or reused from the pool.',
      labelNames: ['result'],
      registers,
    });
    this.sessionEvents = new Counter({
      name: 'edge_tunnel_session_events_total',
      help: 'Agent session lifecycle events, by transport.',
      labelNames: ['event', 'transport'],
      registers,
    });
    this.streams = new Counter({
      name: 'edge_tunnel_streams_total',
      help: "Streams opened to agents, by result and the session's transport.",
      labelNames: ['result', 'transport'],
      registers,
    });
    this.streamRefusals = new Counter({
      name: 'edge_tunnel_stream_refusals_total',
      help: 'Streams refused by --max-streams-per-node or a stream quota under it, by listener and quota.',
      labelNames: ['listener', 'quota'],
      registers,
    });
    this.misses = new Counter({
      name: 'edge_tunnel_misses_total',
      help: 'Requests whose destination did not resolve, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.bytes = new Counter({
      name: 'edge_tunnel_stream_bytes_total',
      help: "Stream payload bytes (in: from agents, out: to agents), by the session's transport.",
      labelNames: ['direction', 'transport'],
      registers,
    });
    this.tlsRefusals = new Counter({
      name: 'edge_tunnel_tls_refusals_total',
      help: 'Connections a TLS listener closed before their handshake (no ClientHello in time, not TLS, caps, queue).',
      labelNames: ['listener', 'reason'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'edge_tunnel_request_duration_seconds',
      help: 'Proxied request durations (upgrades and CONNECT: until the relay ends).',
      labelNames: ['listener', 'status'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
      registers,
    });
    this.resumes = new Counter({
      name: 'edge_tunnel_resumes_total',
      help: 'Agent session resumes: attempted, succeeded, refused; expired = graces that ran out.',
      labelNames: ['result'],
      registers,
    });
    this.resumeRefusals = new Counter({ name: 'edge_tunnel_resume_refusals_total', help: 'Refused resumes by code.', labelNames: ['code'], registers });
    this.resumeSeconds = new Histogram({
      name: 'edge_tunnel_resume_seconds',
      help: 'Pause of a resumed session: from the lost connection to the resume.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.resumeReplayedBytes = new Counter({ name: 'edge_tunnel_resume_replayed_bytes_total', help: 'Bytes the server replayed after resumes.', registers });
    this.resumeStreamsCarried = new Counter({ name: 'edge_tunnel_resume_streams_carried_total', help: 'Streams open across a resume.', registers });
    collectDefaultMetrics({ register: this.registry, prefix: 'edge_tunnel_server_' });
  }
}
