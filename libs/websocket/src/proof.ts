// The agent's proof on a WebSocket session: the server sends a fresh random challenge; the agent
// answers with its certificate chain and a signature, with the certificate's key, over
// PROOF_CONTEXT + challenge. The server accepts a certificate the agent CA issued, valid now, meant
// for client authentication, whose key signed this connection's challenge: a proof cannot be
// replayed on another connection, and it survives an L7 hop (ingress, proxy) that terminates TLS.
import { X509Certificate, randomBytes, sign, verify } from 'node:crypto';
import { CHALLENGE_BYTES, MAX_PROOF_BYTES, PROOF_CONTEXT } from './constants.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const PEM = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

export interface ChallengeMessage {
  challenge: string;
}
export interface ProofMessage {
  cert: string;
  signature: string;
}

export function newChallenge(): Buffer {
  return randomBytes(CHALLENGE_BYTES);
}

export function challengeMessage(challenge: Buffer): string {
  return JSON.stringify({ challenge: challenge.toString('base64') } satisfies ChallengeMessage);
}

/** The challenge of the server's first message; undefined when it is not one. */
export function readChallenge(text: string): Buffer | undefined {
  try {
    const c = Buffer.from(String((JSON.parse(text) as Partial<ChallengeMessage>).challenge ?? ''), 'base64');
    return c.length === CHALLENGE_BYTES ? c : undefined;
  } catch {
    return undefined;
  }
}

/** The agent's answer: its certificate (chain) and its signature of the challenge. */
export function proofMessage(challenge: Buffer, certPem: string, keyPem: string): string {
  const signature = sign('sha256', signedBytes(challenge), keyPem).toString('base64');
  return JSON.stringify({ cert: certPem, signature } satisfies ProofMessage);
}

export type ProofVerdict = { ok: true; cert: X509Certificate } | { ok: false; reason: string };

/** Checks an agent's proof message against the agent CA bundle and this connection's challenge. */
export function verifyProof(text: string, challenge: Buffer, agentCaPem: string, now = new Date()): ProofVerdict {
  if (Buffer.byteLength(text) > MAX_PROOF_BYTES) return { ok: false, reason: `the proof is larger than ${MAX_PROOF_BYTES} bytes` };
  let msg: Partial<ProofMessage>;
  try {
    msg = JSON.parse(text) as Partial<ProofMessage>;
  } catch {
    return { ok: false, reason: 'the proof is not JSON' };
  }
  const leafPem = typeof msg.cert === 'string' ? msg.cert.match(PEM)?.[0] : undefined;
  if (leafPem === undefined || typeof msg.signature !== 'string') return { ok: false, reason: 'the proof has no certificate or no signature' };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch (err) {
    return { ok: false, reason: `the certificate cannot be read: ${(err as Error).message}` };
  }
  const issuer = cas(agentCaPem).find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  if (issuer === undefined) return { ok: false, reason: 'the agent certificate is not signed by the agent CA' };
  if (now < new Date(leaf.validFrom)) return { ok: false, reason: 'the agent certificate is not yet valid' };
  if (now > new Date(leaf.validTo)) return { ok: false, reason: 'the agent certificate has expired' };
  const eku = leaf.keyUsage;
  if (eku !== undefined && !eku.includes(CLIENT_AUTH))
    return { ok: false, reason: 'the agent certificate is not for client authentication (extended key usage)' };
  let signed = false;
  try {
    signed = verify('sha256', signedBytes(challenge), leaf.publicKey, Buffer.from(msg.signature, 'base64'));
  } catch {
    signed = false;
  }
  if (!signed) return { ok: false, reason: "the signature does not match this connection's challenge and the certificate's key" };
  return { ok: true, cert: leaf };
}

function signedBytes(challenge: Buffer): Buffer {
  return Buffer.concat([Buffer.from(PROOF_CONTEXT), challenge]);
}

const caCache = new Map<string, X509Certificate[]>();

function cas(bundle: string): X509Certificate[] {
  let list = caCache.get(bundle);
  if (list === undefined) {
    list = (bundle.match(PEM) ?? []).map((pem) => new X509Certificate(pem));
    if (caCache.size > 8) caCache.clear();
    caCache.set(bundle, list);
  }
  return list;
}
