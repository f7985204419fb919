// The server's side of resumption: new connections get a session id and secret (WELCOME); a
// resume is checked (known session, same node, proof over this connection, offsets we can still
// replay) and either takes over the detached link or is refused with a code and a reason. A link
// that lost its socket is kept until `graceMs` after the last byte it received from the agent (at
// least graceLeftMs()'s window after the loss was noticed), then destroyed with a ResumeGraceError.
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { encodeRefused, encodeResumed, encodeWelcome, decodeHello, readFirstRecord } from './handshake.js';
import { ResumableLink } from './link.js';
import { graceLeftMs, type LinkOptions } from './link-options.js';
import { proofMatches, resumeProof } from './proof.js';
import { ISSUER_TAG_BYTES, RecordType, SECRET_BYTES, SESSION_ID_BYTES, type RefuseCodeName } from './records.js';

/** The link of a session whose grace ran out without a resume. */
export class ResumeGraceError extends Error {
  readonly code = 'ERR_RESUME_GRACE';
}

export interface ResumeTableOptions extends LinkOptions {
  /** how long a link may be silent (from the last byte it received) before it is given up, unless resumed (> 0; graceLeftMs) */
  graceMs: number;
  /** the client's HELLO must arrive within this */
  handshakeTimeoutMs?: number;
  /**
   * this server's id (a replica's --server-id): session ids start with its tag (issuerTag), so a
   * resume of another replica's session is refused OTHER_REPLICA, not UNKNOWN_SESSION; absent: ids
   * are all random and every unknown id is UNKNOWN_SESSION
   */
  issuer?: string;
}

/** The ISSUER_TAG_BYTES that start every session id `serverId` issues (a restart keeps them). */
export function issuerTag(serverId: string): Buffer {
  return createHash('sha256').update(`edge-tunnel resume issuer\0${serverId}`).digest().subarray(0, ISSUER_TAG_BYTES);
}

export interface ResumeEntry {
  /** hex of the 16-byte session id */
  readonly id: string;
  /** the node identity of the certificate the session was issued to */
  readonly identity: string;
  readonly link: ResumableLink;
  resumes: number;
  lastResumeMs: number | undefined;
}

interface Held extends ResumeEntry {
  readonly secret: Buffer;
  grace: NodeJS.Timeout | undefined;
}

export type Accepted =
  | { kind: 'new'; entry: ResumeEntry }
  | { kind: 'resumed'; entry: ResumeEntry; replayed: number; pausedMs: number }
  /** `entry`: the session the refused resume named, when it exists */
  | { kind: 'refused'; code: RefuseCodeName; reason: string; entry?: ResumeEntry };

export interface ResumeCounters {
  attempted: number;
  succeeded: number;
  refused: Partial<Record<RefuseCodeName, number>>;
  expired: number;
  bytesReplayed: number;
}

export class ResumeTable {
  readonly counters: ResumeCounters = { attempted: 0, succeeded: 0, refused: {}, expired: 0, bytesReplayed: 0 };
  private readonly entries = new Map<string, Held>();
  /** hex of this server's issuer tag, when it has one */
  private readonly tag: string | undefined;

  constructor(private readonly opts: ResumeTableOptions) {
    if (!Number.isInteger(opts.graceMs) || opts.graceMs <= 0) throw new RangeError(`graceMs must be a positive integer, got ${opts.graceMs}`);
    this.tag = opts.issuer === undefined ? undefined : issuerTag(opts.issuer).toString('hex');
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): ResumeEntry | undefined {
    return this.entries.get(id);
  }

  /**
   * Runs the handshake on a new connection whose certificate names `identity`; `binding` is the
   * connection's exporter (proof.ts connectionBinding). A refusal has already been written and the
   * socket ended; a rejection (no HELLO in time, garbage) leaves the socket to the caller.
   */
  async accept(socket: Duplex, identity: string, binding: Buffer): Promise<Accepted> {
    const first = await readFirstRecord(socket, this.opts.handshakeTimeoutMs ?? 10_000);
    if (first.type !== RecordType.HELLO) return this.refuse(socket, 'MALFORMED', `the first record must be HELLO, got 0x${first.type.toString(16)}`);
    let hello;
    try {
      hello = decodeHello(first.payload);
    } catch (err) {
      return this.refuse(socket, 'MALFORMED', (err as Error).message);
    }
    if (hello.mode === 'new') return { kind: 'new', entry: this.create(socket, identity, first.leftover) };
    this.counters.attempted += 1;
    const id = hello.sessionId.toString('hex');
    const held = this.entries.get(id);
    if (held === undefined && this.tag !== undefined && !id.startsWith(this.tag)) {
      return this.refuse(
        socket,
        'OTHER_REPLICA',
        `session ${id.slice(0, 8)}… was issued by another replica (tag ${id.slice(0, ISSUER_TAG_BYTES * 2)}; this is ${this.opts.issuer}, tag ${this.tag}): resume it there`,
      );
    }
    if (held === undefined) {
      return this.refuse(socket, 'UNKNOWN_SESSION', `no session ${id.slice(0, 8)}… here: the server restarted, or its grace of ${this.opts.graceMs} ms passed`);
    }
    if (held.identity !== identity) {
      return this.refuse(socket, 'WRONG_NODE', `session ${id.slice(0, 8)}… belongs to node ${held.identity}; this certificate names ${identity}`, held);
    }
    if (!proofMatches(resumeProof('client', held.secret, hello.sessionId, held.identity, binding), hello.proof)) {
      return this.refuse(socket, 'BAD_PROOF', `the resume proof for session ${id.slice(0, 8)}… does not match`, held);
    }
    const link = held.link;
    if (!link.resumable) return this.refuse(socket, 'UNKNOWN_SESSION', `session ${id.slice(0, 8)}… is ending`);
    if (!link.acceptsOffset(hello.received)) {
      const reason = `the agent says it received ${hello.received} bytes; this side holds [${link.replay.start}, ${link.replay.end}]`;
      link.destroy(new Error(`resume impossible: ${reason}`));
      return this.refuse(socket, 'BAD_OFFSET', reason, held);
    }
    const pausedMs = link.pausedAt !== undefined ? Date.now() - link.pausedAt : 0;
    const replayed = link.replay.end - hello.received;
    link.attach(socket, hello.received, {
      leftover: first.leftover,
      preface: (rx) => encodeResumed(rx, resumeProof('server', held.secret, hello.sessionId, held.identity, binding)),
    });
    held.resumes += 1;
    held.lastResumeMs = pausedMs;
    this.counters.succeeded += 1;
    this.counters.bytesReplayed += replayed;
    return { kind: 'resumed', entry: held, replayed, pausedMs };
  }

  /** Frees every held link (shutdown). */
  destroyAll(err: Error): void {
    for (const held of [...this.entries.values()]) held.link.destroy(err);
  }

  private create(socket: Duplex, identity: string, leftover: Buffer): Held {
    const sessionId = randomBytes(SESSION_ID_BYTES);
    if (this.tag !== undefined) Buffer.from(this.tag, 'hex').copy(sessionId, 0);
    const secret = randomBytes(SECRET_BYTES);
    const link = new ResumableLink(this.opts);
    const held: Held = { id: sessionId.toString('hex'), identity, link, secret, grace: undefined, resumes: 0, lastResumeMs: undefined };
    this.entries.set(held.id, held);
    link.on('paused', (reason: string) => {
      clearTimeout(held.grace);
      held.grace = setTimeout(
        () => {
          this.counters.expired += 1;
          const why = `no resume within the grace of ${this.opts.graceMs} ms after the connection was lost: nothing from the agent for ${link.silentMs} ms (${reason})`;
          link.destroy(new ResumeGraceError(why));
        },
        graceLeftMs(this.opts.graceMs, link.silentMs),
      );
      held.grace.unref();
    });
    link.on('resumed', () => clearTimeout(held.grace));
    link.on('close', () => {
      clearTimeout(held.grace);
      this.entries.delete(held.id);
      secret.fill(0);
    });
    link.attach(socket, 0, { leftover, preface: () => encodeWelcome({ sessionId, secret, graceMs: this.opts.graceMs }) });
    return held;
  }

  private refuse(socket: Duplex, code: RefuseCodeName, reason: string, entry?: ResumeEntry): Accepted {
    this.counters.refused[code] = (this.counters.refused[code] ?? 0) + 1;
    socket.end(encodeRefused(code, reason));
    setTimeout(() => socket.destroy(), 1_000).unref();
    return { kind: 'refused', code, reason, ...(entry ? { entry } : {}) };
  }
}
