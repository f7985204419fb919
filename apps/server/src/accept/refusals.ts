// Connections a TLS listener closes before their handshake (or at a renegotiation), by reason: counted on /metrics
// (edge_tunnel_tls_refusals_total{listener,reason}) and logged as at most one warn line per listener
// and reason every `warnEveryMs` (a siege of thousands of connections must not flood the log).
import type { Counter } from 'prom-client';
import type { Logger } from '../logger.js';

/** Why a connection was closed before its TLS handshake (the `reason` label). */
export const TlsRefusal = {
  /** no complete first TLS record (ClientHello) within --client-hello-timeout-ms */
  CLIENT_HELLO_TIMEOUT: 'client_hello_timeout',
  /** the first byte is not a TLS handshake record */
  NOT_TLS: 'not_tls',
  /** --max-pending-connections were waiting for their ClientHello: the oldest of them is closed */
  EVICTED: 'evicted',
  /** the source address already had its cap of pending handshakes (--*-max-pending-per-source) */
  SOURCE_CAP: 'source_cap',
  /** agent port: the handshake queue was full (--max-agent-handshake-queue) */
  QUEUE_FULL: 'queue_full',
  /** agent port: waited for a handshake slot longer than the handshake deadline */
  QUEUE_TIMEOUT: 'queue_timeout',
  /** after the handshake: a TLS 1.2 client asked to renegotiate (closed, as the kubelet does) */
  RENEGOTIATION: 'renegotiation',
} as const;
export type TlsRefusal = (typeof TlsRefusal)[keyof typeof TlsRefusal];

const HINT: Record<TlsRefusal, string> = {
  client_hello_timeout: 'connections that never start TLS (idle or silent clients, a port scan, or a health check that should use TCP only)',
  not_tls: 'a client that does not speak TLS to a TLS port (wrong port or plain HTTP)',
  evicted: 'more connections waiting for their ClientHello than --max-pending-connections: the oldest are closed (a flood of idle connections)',
  source_cap: 'one source address holds its cap of pending handshakes; raise the per-source cap if a load balancer hides client addresses',
  queue_full: 'more TLS clients waiting for a handshake slot than --max-agent-handshake-queue',
  queue_timeout: 'a TLS client waited for a handshake slot longer than its deadline (raise --max-agent-handshakes?)',
  renegotiation:
    'a TLS 1.2 client asked to renegotiate, which costs the server a full handshake each time; refused as the kubelet refuses it (a client must present its certificate in the first handshake, or use TLS 1.3)',
};

const MESSAGE: Partial<Record<TlsRefusal, string>> = { renegotiation: 'tls renegotiation refused, connection closed' };

export class RefusalReporter {
  private readonly windows = new Map<string, { since: number; count: number }>();

  constructor(
    private readonly listener: string,
    private readonly counter: Counter<'listener' | 'reason'> | undefined,
    private readonly log: Logger,
    private readonly warnEveryMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  refused(reason: TlsRefusal, remoteAddress: string | undefined): void {
    this.counter?.inc({ listener: this.listener, reason });
    const t = this.now();
    const w = this.windows.get(reason);
    if (w !== undefined && t - w.since < this.warnEveryMs) {
      w.count += 1;
      return;
    }
    // the line carries how many of this reason were refused silently since the previous one
    this.windows.set(reason, { since: t, count: 0 });
    this.log.warn(
      { listener: this.listener, reason, remoteAddress, suppressed: w?.count ?? 0, windowMs: this.warnEveryMs, hint: HINT[reason] },
      MESSAGE[reason] ?? 'connection refused before its tls handshake',
    );
  }
}
