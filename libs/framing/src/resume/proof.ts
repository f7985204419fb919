// The resume proof (spec §10.4): HMAC-SHA256 keyed with the session's secret over a label, the
// session id, the node identity and the TLS exporter of the NEW connection. The exporter is a
// fresh challenge both ends compute without a round trip and that no other connection shares, so a
// proof seen once can never be replayed; the secret itself never leaves the connection it was
// issued on.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { PROOF_BYTES } from './records.js';

export const EXPORTER_LABEL = 'EXPORTER-edge-tunnel-resume';
export const EXPORTER_BYTES = 32;

export type ProofSide = 'client' | 'server';

/** The new connection's challenge: RFC 5705 / 8446 keying material under our label. */
export function connectionBinding(socket: TLSSocket): Buffer {
  return socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
}

/**
 * The binding of a WebSocket connection (spec §10.6), where no TLS exporter reaches end to end (an
 * L7 hop may terminate TLS): the server's fresh challenge of this connection, the one the agent
 * signs with its certificate's key to be admitted at all, under a label of its own so that it can
 * never equal an exporter's use.
 */
export function challengeBinding(challenge: Buffer): Buffer {
  return createHash('sha256').update('edge-tunnel websocket resume binding v1\0').update(challenge).digest();
}

export function resumeProof(side: ProofSide, secret: Buffer, sessionId: Buffer, identity: string, binding: Buffer): Buffer {
  const h = createHmac('sha256', secret);
  h.update(`edge-tunnel resume v1 ${side}\0`);
  h.update(sessionId);
  const id = Buffer.from(identity, 'utf8');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(id.length);
  h.update(len);
  h.update(id);
  h.update(binding);
  return h.digest();
}

export function proofMatches(expected: Buffer, got: Buffer): boolean {
  return got.length === PROOF_BYTES && expected.length === PROOF_BYTES && timingSafeEqual(expected, got);
}
