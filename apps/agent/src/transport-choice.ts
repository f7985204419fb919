// --transport auto: TLS to the agent port first; WebSocket (--ws-url) in the same attempt when the TLS
// dial failed in a way a network that passes only HTTP(S) fails it. The first transport that brings a
// session up is kept by that replica's dialer until the agent restarts (later redials skip the probe).
// Which failures move to WebSocket (FALLBACK_FAILURES, the `because` of the log line):
//   - the proxy refused CONNECT to the agent port: 403 (squid's default allows CONNECT to 443 only),
//     405, 501 or any other refusal status, and 5xx (the proxy may not reach that port);
//   - the TCP connection to the agent port was refused, reset, timed out or unroutable (an egress
//     firewall that passes 443 only);
//   - the TLS handshake was reset, closed or timed out (an inspecting firewall that drops TLS it does
//     not understand), or the server's certificate was not ours (a firewall that re-signs TLS);
//     the WebSocket dial verifies the server's certificate just the same.
// Never: 407 / an unreadable --proxy-auth-file, an unreachable proxy or TLS to it (the WebSocket goes
// through the same proxy), a name that does not resolve, our certificate refused by the server, a
// GOAWAY or a bad hello: those fail over WebSocket too, and the fix is the operator's.
import { ProxyFailure } from './proxy-connect.js';
import { ConnectResult } from './metrics.js';

export type Transport = 'tls' | 'websocket';
export type TransportSetting = Transport | 'auto';

/** One failed TLS dial as the dialer recorded it. */
export interface DialFailure {
  kind: ConnectResult;
  /** ProxyFailure for proxy errors; the errno / OpenSSL code otherwise (may be empty) */
  code: string;
  reason: string;
}

/** The `because` field of the fallback log line, by failure. */
export const FALLBACK_FAILURES = {
  proxy_refused_connect: 'the proxy refused CONNECT to the agent port',
  agent_port_blocked: 'the agent port is not reachable (refused, reset, timed out or unroutable)',
  tls_blocked: 'the TLS handshake was reset, closed or timed out',
  tls_intercepted: "the certificate presented was not the server's (an inspecting firewall re-signs TLS)",
} as const;
export type FallbackFailure = keyof typeof FALLBACK_FAILURES;

const BLOCKED_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const PROXY_REFUSALS: ReadonlySet<string> = new Set([ProxyFailure.FORBIDDEN, ProxyFailure.REFUSED, ProxyFailure.BAD_GATEWAY]);

/** Why this TLS failure sends `auto` to WebSocket; undefined when it would fail there too. */
export function fallbackFor(f: DialFailure): FallbackFailure | undefined {
  if (f.kind === ConnectResult.PROXY_ERROR) return PROXY_REFUSALS.has(f.code) ? 'proxy_refused_connect' : undefined;
  if (f.kind === ConnectResult.UNREACHABLE) {
    if (f.code === 'handshake_closed' || f.code === 'handshake_timeout') return 'tls_blocked';
    return BLOCKED_ERRNO.has(f.code) ? 'agent_port_blocked' : undefined;
  }
  if (f.kind === ConnectResult.TLS_ERROR && /CERT|SELF_SIGNED|LEAF_SIGNATURE|ALTNAME|ISSUER/.test(f.code) && !/ALERT/.test(f.code)) return 'tls_intercepted';
  if (f.kind === ConnectResult.TLS_ERROR && /WRONG_VERSION_NUMBER|UNEXPECTED_MESSAGE|PACKET_LENGTH_TOO_LONG/.test(f.code)) return 'tls_blocked';
  return undefined;
}

/**
 * One dialer's transport: fixed for tls/websocket; for auto, undecided (TLS, then WebSocket on a
 * fallback failure) until a session comes up, then that transport for good.
 */
export class TransportChoice {
  private chosen: Transport | undefined;

  constructor(readonly setting: TransportSetting) {
    if (setting !== 'auto') this.chosen = setting;
  }

  /** The transport this dial starts with. */
  first(): Transport {
    return this.chosen ?? 'tls';
  }

  /** Whether a failed TLS dial is retried over WebSocket in the same attempt. */
  probing(): boolean {
    return this.setting === 'auto' && this.chosen === undefined;
  }

  /** The transport that brought a session up; true when this decided the choice (log it once). */
  decide(transport: Transport): boolean {
    if (this.chosen !== undefined) return false;
    this.chosen = transport;
    return true;
  }

  get decided(): Transport | undefined {
    return this.chosen;
  }
}
