// What a Dialer is given: the agent's config, its log and metrics, the credentials it dials with, and
// the hooks its owner (replicas.ts: one dialer per server replica) listens on.
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Session, SocketStream } from '@edge-tunnel/framing';
import type { Logger } from 'pino';
import type { AgentConfig } from './config.js';
import type { AgentMetrics } from './metrics.js';
import type { CredentialSource } from './credentials.js';
import type { Credentials } from './tls.js';
import type { ResumeRoute } from './resume-route.js';

export interface DialerOptions {
  config: AgentConfig;
  log: Logger;
  metrics: AgentMetrics;
  onStream: (stream: SocketStream, session: Session) => void;
  /** asked for the client certificate and key on every dial */
  credentials: Pick<CredentialSource, 'current'>;
  /** [0, 1) for the backoff jitter; tests inject it */
  random?: () => number;
  /** opens the TLS connection; tests may wrap it */
  connect?: (config: AgentConfig, creds: Credentials, tunnel?: Socket) => TLSSocket;
  /** a session's hello is done (replaces the session_up gauge update when given) */
  onUp?: (session: Session) => void;
  /** that session ended */
  onDown?: (session: Session) => void;
  /** extra hello fields (the port ceiling) */
  helloExtra?: Record<string, unknown>;
  /** a CONFIG frame from the server (the session takes them when this is given) */
  onConfig?: (config: Record<string, unknown>, session: Session) => void;
  /** asked after each session or failed attempt: false ends the loop (the load balancer dialer) */
  reconnect?: () => boolean;
  /** where a resume redials (resume-route.ts); absent: --server, as through a load balancer */
  resumeRoute?: () => ResumeRoute;
}
