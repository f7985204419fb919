// The WebSocket transport's names: the URL path the server serves sessions on, the subprotocol both
// sides name, and the limits of one connection.

/** Path of the session endpoint: `wss://host[:port]/edge-tunnel/v1/session`. */
export const SESSION_PATH = '/edge-tunnel/v1/session';
/** Sec-WebSocket-Protocol of a session. */
export const SUBPROTOCOL = 'edge-tunnel.v1';
/**
 * Offered by an agent that can resume, before SUBPROTOCOL; a server that resumes picks it, and the
 * WebSocket then carries the resumable link (framing spec §10.6) instead of the bare session.
 */
export const RESUME_SUBPROTOCOL = 'edge-tunnel-resume.v1';
/** What the agent signs: this prefix and the server's 32-byte challenge. */
export const PROOF_CONTEXT = 'edge-tunnel websocket proof v1\n';
export const CHALLENGE_BYTES = 32;
/** Largest proof message (a certificate chain and a signature). */
export const MAX_PROOF_BYTES = 64 * 1024;
/** Largest binary message either side sends (frames are batched up to this) and accepts (a 16 MiB frame fits). */
export const MAX_SEND_BYTES = 1024 * 1024;
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Close code of a refused proof (4000–4999 are the application's). */
export const CLOSE_REFUSED = 4403;
/** `code` of the error a WebSocketDuplex ends with when the server closed it with CLOSE_REFUSED. */
export const PROOF_REFUSED = 'ERR_WEBSOCKET_PROOF_REFUSED';
