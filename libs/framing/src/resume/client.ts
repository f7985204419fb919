// The agent's side of resumption: open a new resumable link (HELLO new → WELCOME), or resume a
// paused one over a new connection (HELLO resume with the proof → RESUMED, whose own proof is
// checked, then the tail is replayed both ways).
import type { Duplex } from 'node:stream';
import { decodeAnswer, encodeHello, readFirstRecord, type ResumeCredentials } from './handshake.js';
import { ResumableLink } from './link.js';
import type { LinkOptions } from './link-options.js';
import { proofMatches, resumeProof } from './proof.js';
import type { RefuseCodeName } from './records.js';

/** The server said no (REFUSED), or its answer did not prove it holds the session. */
export class ResumeRefusedError extends Error {
  constructor(
    readonly refusal: RefuseCodeName | 'UNKNOWN' | 'BAD_SERVER_PROOF',
    reason: string,
  ) {
    super(`resume refused (${refusal}): ${reason}`);
  }
  readonly code = 'ERR_RESUME_REFUSED';
}

/** A new session's link over `socket`: resolves once the server's WELCOME arrived. */
export async function openLink(socket: Duplex, opts: LinkOptions & { timeoutMs: number }): Promise<{ link: ResumableLink; credentials: ResumeCredentials }> {
  socket.write(encodeHello({ mode: 'new' }));
  const first = await readFirstRecord(socket, opts.timeoutMs);
  const answer = decodeAnswer(first.type, first.payload);
  if (answer.kind === 'refused') throw new ResumeRefusedError(answer.code, answer.reason);
  if (answer.kind !== 'welcome') throw new ResumeRefusedError('UNKNOWN', `a new session was answered with ${answer.kind}`);
  const link = new ResumableLink(opts);
  link.attach(socket, 0, { leftover: first.leftover });
  return { link, credentials: answer.credentials };
}

/**
 * Resumes a paused `link` over `socket` (a new TLS connection whose exporter is `binding`, and whose
 * certificate names `identity`). Resolves with the bytes replayed to the server; rejects with
 * ResumeRefusedError when the server refused (the link stays paused: the caller ends it).
 */
export async function resumeLink(
  link: ResumableLink,
  credentials: ResumeCredentials,
  socket: Duplex,
  identity: string,
  binding: Buffer,
  timeoutMs: number,
): Promise<{ replayed: number }> {
  if (!link.paused) throw new Error('resumeLink: the link still has a socket');
  const { sessionId, secret } = credentials;
  socket.write(encodeHello({ mode: 'resume', sessionId, received: link.rxOffset, proof: resumeProof('client', secret, sessionId, identity, binding) }));
  const first = await readFirstRecord(socket, timeoutMs);
  const answer = decodeAnswer(first.type, first.payload);
  if (answer.kind === 'refused') throw new ResumeRefusedError(answer.code, answer.reason);
  if (answer.kind !== 'resumed') throw new ResumeRefusedError('UNKNOWN', `a resume was answered with ${answer.kind}`);
  if (!proofMatches(resumeProof('server', secret, sessionId, identity, binding), answer.proof)) {
    throw new ResumeRefusedError('BAD_SERVER_PROOF', 'the server does not prove it holds this session');
  }
  if (!link.acceptsOffset(answer.received)) {
    throw new ResumeRefusedError('BAD_OFFSET', `the server says it received ${answer.received} bytes; we hold [${link.replay.start}, ${link.replay.end}]`);
  }
  const replayed = link.replay.end - answer.received;
  link.attach(socket, answer.received, { leftover: first.leftover });
  return { replayed };
}
