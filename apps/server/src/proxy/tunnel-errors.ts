// Every X-Tunnel-Error reason the server answers (or audits) with: a stable code, its status, one
// line of doc, and what a caller without credentials is told (proxy/caller-view.ts): `echoes` when
// the operator's sentence only repeats what the caller sent or names configuration keys, else the
// fixed `caller` sentence (none: "the tunnel could not carry the request"). The README's "Statuses" table lists exactly these codes (test/tunnel-errors.test.ts).
import { MISS_STATUS } from '@edge-tunnel/dnat';

export const TUNNEL_ERRORS = {
  /** no X-Tunnel-Proxy-Dest, Host or CONNECT target at all */
  NO_DESTINATION: { status: 400, doc: 'no usable `Host` / `X-Tunnel-Proxy-Dest` / CONNECT target', echoes: true },
  /** a destination that is not nodeIP:port or nodeName:port, or more than one Host header */
  BAD_DESTINATION: { status: 400, doc: 'the destination is not `nodeIP:port` / `nodeName:port`, or the request has more than one `Host`', echoes: true },
  /** HTTPS listener: the caller's certificate matches no --caller-allow rule, or is an edge node identity */
  CALLER_NOT_ALLOWED: {
    status: 403,
    doc: "HTTPS listener: the caller's certificate matches no `--caller-allow` rule, or is an edge node identity (body names the rule; warn line `caller refused`)",
  },
  /** HTTPS listener, cluster mode: no credentials, or a bearer token TokenReview did not authenticate */
  UNAUTHENTICATED: {
    status: 401,
    doc: 'HTTPS listener, cluster mode: neither a verified certificate nor a bearer token, or TokenReview did not authenticate the token (warn line `token caller refused`)',
    caller: 'the caller is not authenticated: present a certificate or a valid service-account bearer token',
  },
  /** HTTPS listener, standalone: a bearer token and no certificate (no API to review it) */
  TOKEN_NOT_SUPPORTED: {
    status: 401,
    doc: 'HTTPS listener, standalone: a bearer token without a client certificate; tokens are reviewed in cluster mode only',
    caller: 'bearer tokens are not accepted here: present a client certificate',
  },
  /** HTTPS listener, cluster mode: SubjectAccessReview denied the kubelet permission (body names it) */
  TOKEN_NOT_ALLOWED: {
    status: 403,
    doc: 'HTTPS listener, cluster mode: the token\'s user lacks the kubelet permission (body: verb and `nodes/<subresource>`, e.g. `get nodes/proxy "edge-1"`)',
  },
  /** HTTPS listener, cluster mode: TokenReview or SubjectAccessReview failed (not cached) */
  AUTH_REVIEW_FAILED: {
    status: 503,
    doc: 'HTTPS listener, cluster mode: the API server did not answer the TokenReview / SubjectAccessReview; retry',
    caller: "the caller's credentials could not be checked; retry",
  },
  /** HTTPS passthrough: no SNI in the ClientHello and no original destination (conntrack) */
  NO_ROUTING_KEY: {
    status: 421,
    doc: 'HTTPS passthrough: the ClientHello names no server (SNI) and the connection has no original destination; sent as TLS alert `unrecognized_name`, warn line `passthrough refused`',
    caller: 'the connection names no edge node: dial the kubelet by node name',
  },
  /** dnat miss: port neither built in nor configured */
  PORT_NOT_CONFIGURED: { status: MISS_STATUS.PORT_NOT_CONFIGURED, doc: 'port neither built in nor configured (body names the ConfigMap keys)', echoes: true },
  /** dnat miss: an HTTP port on the HTTPS listener or vice versa */
  WRONG_CHANNEL: { status: MISS_STATUS.WRONG_CHANNEL, doc: 'an HTTP port on the HTTPS listener or vice versa', echoes: true },
  /** dnat miss: no node has that IP or name */
  NODE_UNKNOWN: { status: MISS_STATUS.NODE_UNKNOWN, doc: 'no node has that IP/name', echoes: true },
  /** dnat miss: addressed by name, the node has no IP */
  NODE_NO_ADDRESS: {
    status: MISS_STATUS.NODE_NO_ADDRESS,
    doc: 'the node addressed by name has no IP',
    caller: 'its edge node has no known IP; address it by IP',
  },
  /** dnat miss: node known, no agent session attached */
  NO_TUNNEL: {
    status: MISS_STATUS.NO_TUNNEL,
    doc: 'node known, no agent attached',
    caller: 'its edge node has no connected tunnel agent; retry once the agent connects',
  },
  /** the node's session is paused: its connection was lost and the agent is resuming it (Retry-After) */
  TUNNEL_PAUSED: {
    status: 503,
    doc: "the node's agent connection was lost and its session is waiting for the agent to resume it (`--resume-grace-ms`); open streams continue after the resume, new ones are answered at once; retry after `Retry-After`",
    caller: "its edge node's tunnel is reconnecting; retry shortly",
  },
  /** cluster mode: the pod's node could not be looked up */
  POD_LOOKUP_FAILED: {
    status: 503,
    doc: 'cluster mode: a kubelet pod path with a non-node Host, and the API could not say where the pod runs',
    caller: 'the node of the pod named by the path could not be looked up; retry',
  },
  /** the node already has --max-streams-per-node streams open, or the session's stream ids ran out (Retry-After) */
  STREAM_LIMIT: {
    status: 503,
    doc: 'the node has `--max-streams-per-node` streams open (or the session ran out of stream ids); retry later (`Retry-After`)',
    caller: 'too many streams are open to its edge node; retry later',
  },
  /** a quota under the node cap: the listener's, all unauthenticated callers', one source address's or one identity's share */
  STREAM_QUOTA: {
    status: 429,
    doc: "a stream quota under `--max-streams-per-node` is full: the listener's (`--listener-stream-share`), all callers without a credential (`--unauthenticated-stream-share`), one source address (`--source-stream-share`) or one certificate identity (`--caller-stream-share`); `Retry-After`, warn line `stream refused: <quota> stream quota` naming the flag",
    caller: 'too many streams from this caller or listener are open to its edge node; retry later',
  },
  /** the port is configured, but the agent's hello ceiling (--allow-ports / --localhost-ports) excludes it */
  AGENT_CEILING: {
    status: 403,
    doc: "the port is configured, but the node's agent refuses it: above its `--allow-ports` / `--localhost-ports` ceiling (body names the port, the flag and the node; `/debug/tunnels` `refusedPorts`)",
    caller: "the port is configured, but the edge node's agent does not allow it (its own port ceiling); the server's /debug/tunnels lists such ports",
  },
  /** framing RESET from the agent: the allow-list refused the target */
  REFUSED: {
    status: 403,
    doc: "the agent refused the target (an authenticated caller's body carries the agent's reason)",
    caller: "the edge node's agent refused the target",
  },
  /** framing RESET from the agent: the local dial failed */
  CONNECT_FAILED: { status: 502, doc: "the agent could not dial the target (agent's reason)", caller: "the edge node's agent could not connect to the target" },
  /** framing RESET: dial timeout at the agent, or no answer within --open-timeout-ms */
  TIMEOUT: { status: 504, doc: "the agent's dial timed out, or no answer within `--open-timeout-ms`", caller: 'the target did not answer in time' },
  /** framing RESET: the session is going away */
  GOING_AWAY: { status: 503, doc: 'the session announced GOAWAY before the stream opened', caller: 'the tunnel session to its edge node is going away; retry' },
  /** framing RESET: the session missed its keepalive */
  KEEPALIVE_TIMEOUT: {
    status: 503,
    doc: 'the session missed its keepalive before the stream opened',
    caller: 'the tunnel session to its edge node stopped answering; retry',
  },
  /** the session closed before the stream opened */
  SESSION_GONE: { status: 503, doc: 'the agent session closed before the stream opened', caller: 'the tunnel session to its edge node closed; retry' },
  /** any other failure before the response started */
  UPSTREAM_ERROR: { status: 502, doc: 'any other failure before the response started (e.g. kubelet TLS verification)' },
  /** the listener's parser: request head over the size limit */
  HEADERS_TOO_LARGE: { status: 431, doc: "the request head exceeds the listener's size limit" },
  /** the listener's parser: the request head did not arrive in time */
  REQUEST_TIMEOUT: { status: 408, doc: 'the request head did not arrive in time' },
  /** the listener's parser: conflicting Content-Length / Transfer-Encoding (smuggling) */
  AMBIGUOUS_BODY: { status: 400, doc: 'conflicting or invalid `Content-Length` / `Transfer-Encoding`' },
  /** the listener's parser: anything else unparsable */
  MALFORMED_REQUEST: { status: 400, doc: 'the request could not be parsed' },
  /** audit only: the caller left before an answer (nginx's 499; nothing is sent) */
  CALLER_GONE: { status: 499, doc: 'audit line only: the caller went away before the answer (nothing is sent)', echoes: true },
  /** audit only: a relay carried no byte either way for --idle-timeout-ms */
  IDLE_TIMEOUT: { status: 200, doc: 'audit line only: an upgraded/CONNECT relay closed after no byte either way for the idle timeout' },
} as const;
export type TunnelErrorCode = keyof typeof TUNNEL_ERRORS;

/** `{ status, reason }` of a code, to spread into a Failure. */
export function tunnelError<C extends TunnelErrorCode>(reason: C): { status: (typeof TUNNEL_ERRORS)[C]['status']; reason: C } {
  return { status: TUNNEL_ERRORS[reason].status, reason };
}

/** The fields a code may have, for lookups by a reason string. */
interface TunnelErrorInfo {
  status: number;
  doc: string;
  caller?: string;
  echoes?: boolean;
}
const BY_REASON: Readonly<Record<string, TunnelErrorInfo | undefined>> = TUNNEL_ERRORS;

/** What a caller without credentials is told for `reason`: the operator's sentence (undefined) when it echoes the caller, else a fixed one. */
export function callerSentence(reason: string): string | undefined {
  const info = BY_REASON[reason];
  return info?.echoes ? undefined : (info?.caller ?? 'the tunnel could not carry the request');
}
