// Prometheus metrics of one agent (one Registry per start(), so tests and restarts never collide).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface AgentMetrics {
  registry: Registry;
  sessionUp: Gauge;
  sessions: Gauge<'transport'>;
  connects: Counter<'result' | 'transport'>;
  streams: Counter<'result'>;
  streamsActive: Gauge;
  bytes: Counter<'direction'>;
  rtt: Gauge;
  dialDuration: Histogram;
  /** session resumes: attempted (a new connection), succeeded, refused, failed (no resume within the grace) */
  resumes: Counter<'result'>;
  /** bytes the agent sent again after resumes */
  resumeReplayedBytes: Counter;
  /** from the lost connection to the resume */
  resumeSeconds: Histogram;
}

/** Results of one connection attempt, the `result` label of _connects_total. */
export const ConnectResult = {
  /** TLS up and the server said hello */
  OK: 'ok',
  /** TCP connect failed or timed out */
  UNREACHABLE: 'unreachable',
  /** TLS handshake failed (certificate rejected either way) */
  TLS_ERROR: 'tls_error',
  /** the server sent GOAWAY with an error code */
  REFUSED: 'refused',
  /** the connection ended before the hello, or the hello was wrong */
  HELLO_ERROR: 'hello_error',
  /** the HTTP CONNECT proxy failed or refused (the log line's code says how) */
  PROXY_ERROR: 'proxy_error',
} as const;
export type ConnectResult = (typeof ConnectResult)[keyof typeof ConnectResult];

/** `rttMs` is read at scrape time; `countLiveBytes` adds the bytes of open streams to `bytes` then. */
export function createMetrics(rttMs: () => number | undefined, countLiveBytes: () => void = () => {}): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    sessionUp: new Gauge({ name: 'edge_tunnel_agent_session_up', help: '1 while a session to the server is up (hello done)', registers }),
    sessions: new Gauge({
      name: 'edge_tunnel_agent_sessions',
      help: 'sessions up (hello done), one per server replica, by transport (tls, websocket)',
      labelNames: ['transport'],
      registers,
    }),
    connects: new Counter({
      name: 'edge_tunnel_agent_connects_total',
      help: 'connection attempts to the server by result and transport (tls, websocket)',
      labelNames: ['result', 'transport'],
      registers,
    }),
    streams: new Counter({
      name: 'edge_tunnel_agent_streams_total',
      help: 'streams opened by the server: accepted, refused (allow-list), failed (dial)',
      labelNames: ['result'],
      registers,
    }),
    streamsActive: new Gauge({ name: 'edge_tunnel_agent_streams_active', help: 'streams relaying now', registers }),
    bytes: new Counter({
      name: 'edge_tunnel_agent_bytes_total',
      help: 'relayed bytes: in = server to local targets, out = local targets to server',
      labelNames: ['direction'],
      registers,
      collect: countLiveBytes,
    }),
    rtt: new Gauge({
      name: 'edge_tunnel_agent_session_rtt_seconds',
      help: 'last keepalive round-trip time to the server',
      registers,
      collect() {
        const ms = rttMs();
        if (ms !== undefined) this.set(ms / 1000);
      },
    }),
    dialDuration: new Histogram({
      name: 'edge_tunnel_agent_dial_duration_seconds',
      help: 'time to connect to a local target (successful or not)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    resumes: new Counter({
      name: 'edge_tunnel_agent_resumes_total',
      help: 'session resumes by result: attempted, succeeded, refused, failed',
      labelNames: ['result'],
      registers,
    }),
    resumeReplayedBytes: new Counter({ name: 'edge_tunnel_agent_resume_replayed_bytes_total', help: 'bytes sent again after resumes', registers }),
    resumeSeconds: new Histogram({
      name: 'edge_tunnel_agent_resume_seconds',
      help: 'pause of a resumed session: from the lost connection to the resume',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
  };
}
