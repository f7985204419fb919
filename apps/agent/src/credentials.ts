// The agent's client credentials, asked for on every dial. Either fixed files (--cert/--key, re-read
// on each dial so that rotated files take effect on the next connection) or enrolled ones
// (--bootstrap-token-file): signed by the server, written to --cert-dir, and renewed in the background
// before they expire. A renewal never touches the live session; the next dial uses the new pair.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, writePemFiles } from '@edge-tunnel/pki';
import type { CertIdentity, KeyPairPem } from '@edge-tunnel/pki';
import type { Logger } from 'pino';
import { fullJitter } from './backoff.js';
import type { AgentConfig } from './config.js';
import { checkCertificate, enroll, EnrollError } from './enroll.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { loadCredentials, readPem, type Credentials } from './tls.js';

/** Longest single timer (setTimeout overflows past 2^31-1 ms); longer waits are chained. */
const MAX_TIMER_MS = 24 * 3600_000;
/** Shortest wait before renewing a certificate that was due for renewal as soon as it was issued. */
const MIN_RENEW_DELAY_MS = 1000;

export interface CredentialSource {
  /** Credentials for the next dial; waits while the first enrollment is under way. */
  current(): Promise<Credentials>;
  /** `enrolling: <reason>` while there is no usable certificate, else undefined. */
  pendingReason(): string | undefined;
  /** Starts background work (enrollment, renewal timers). */
  start(): void;
  /** Stops timers and any enrollment in flight; pending current() calls reject. */
  close(): void;
}

/** Picks the source for `config`. Rejects (AgentError) when fixed files or --ca cannot be read. */
export async function openCredentials(config: AgentConfig, log: Logger, random?: () => number): Promise<CredentialSource> {
  if (config.bootstrapTokenFile === undefined) {
    const files = { certFile: config.certFile ?? '', keyFile: config.keyFile ?? '', caFile: config.caFile };
    await loadCredentials(files); // fail fast on a wrong path
    return { current: () => loadCredentials(files), pendingReason: () => undefined, start: () => undefined, close: () => undefined };
  }
  await readPem('CA', config.caFile); // it verifies the server during enrollment too
  const enrolled = new EnrolledCredentials(config, config.bootstrapTokenFile, log, random);
  await enrolled.load();
  return enrolled;
}

interface Pair {
  cert: string;
  key: string;
  identity: CertIdentity;
  /** where it was read from, or written to */
  path: string;
}

class EnrolledCredentials implements CredentialSource {
  #pair: Pair | undefined;
  #reason = 'the first enrollment has not finished yet';
  #waiters: Array<{ resolve: (p: Pair) => void; reject: (e: Error) => void }> = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  #closed = false;
  #failures = 0;
  /** key of the enrollment under way, kept across its retries */
  #key: KeyPairPem | undefined;

  constructor(
    private readonly config: AgentConfig,
    private readonly tokenFile: string,
    private readonly log: Logger,
    private readonly random?: () => number,
  ) {}

  /** Adopts a usable pair from --cert/--key or --cert-dir, if there is one. */
  async load(): Promise<void> {
    const { certFile, keyFile, nodeName } = this.config;
    const candidates = [
      ...(certFile !== undefined && keyFile !== undefined ? [[certFile, keyFile]] : []),
      [join(this.config.certDir, 'agent.crt'), join(this.config.certDir, 'agent.key')],
    ];
    const reasons: string[] = [];
    for (const [certPath, keyPath] of candidates as Array<[string, string]>) {
      try {
        const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
        const identity = checkCertificate(cert, key, nodeName);
        // --cert/--key or a later enrollment in --cert-dir: the one that lasts longer wins
        if (this.#pair === undefined || identity.notAfter > this.#pair.identity.notAfter) this.#pair = { cert, key, identity, path: certPath };
      } catch (err) {
        reasons.push(`${certPath}: ${(err as Error).message}`);
      }
    }
    if (this.#pair !== undefined) {
      this.log.info({ certFile: this.#pair.path, notAfter: this.#pair.identity.notAfter.toISOString() }, 'using certificate');
      return;
    }
    this.#reason = `no usable certificate yet (${reasons.join('; ')})`;
    this.log.info({ reason: this.#reason }, 'no usable certificate: enrolling');
  }

  start(): void {
    if (this.#pair) this.#scheduleRenewal(this.#pair.identity, false);
    else void this.#enroll();
  }

  async current(): Promise<Credentials> {
    const pair =
      this.#pair ??
      (await new Promise<Pair>((resolve, reject) => {
        if (this.#closed) return reject(new AgentError(AgentErrorCode.CREDENTIALS, 'the agent is stopping'));
        this.#waiters.push({ resolve, reject });
      }));
    return { cert: pair.cert, key: pair.key, ca: await readPem('CA', this.config.caFile) };
  }

  pendingReason(): string | undefined {
    if (this.#pair === undefined) return `enrolling: ${this.#reason}`;
    const notAfter = this.#pair.identity.notAfter;
    if (notAfter.getTime() <= Date.now()) return `enrolling: the certificate expired at ${notAfter.toISOString()}; ${this.#reason}`;
    return undefined;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    for (const w of this.#waiters.splice(0)) w.reject(new AgentError(AgentErrorCode.CREDENTIALS, 'the agent is stopping'));
  }

  /** One enrollment attempt; on failure, logs the reason and retries with backoff (never gives up). */
  async #enroll(): Promise<void> {
    const renewing = this.#pair !== undefined;
    try {
      const token = await readToken(this.tokenFile);
      const ca = await readPem('CA', this.config.caFile);
      this.#key ??= await generateKeyPair();
      if (this.#closed) return;
      // a renewal presents the current certificate: the server re-enrolls a node that holds one only for it
      const pair = this.#pair !== undefined && this.#pair.identity.notAfter.getTime() > Date.now() ? this.#pair : undefined;
      const got = await enroll(this.config, {
        token,
        key: this.#key,
        ca,
        signal: this.#abort.signal,
        ...(pair ? { current: { cert: pair.cert, key: pair.key } } : {}),
      });
      if (this.#closed) return;
      this.#key = undefined;
      this.#failures = 0;
      await this.#save(got.certPem, got.keyPem, got.caPem);
      this.#pair = { cert: got.certPem, key: got.keyPem, identity: got.identity, path: join(this.config.certDir, 'agent.crt') };
      for (const w of this.#waiters.splice(0)) w.resolve(this.#pair);
      this.log.info({ notAfter: got.identity.notAfter.toISOString(), certDir: this.config.certDir }, renewing ? 'certificate renewed' : 'certificate enrolled');
      this.#scheduleRenewal(got.identity, true);
    } catch (err) {
      if (this.#closed) return;
      this.#reason = (err as Error).message;
      const delayMs = fullJitter(this.#failures, { baseMs: this.config.backoffBaseMs, maxMs: this.config.backoffMaxMs, random: this.random });
      this.#failures += 1;
      const e = err as EnrollError;
      this.log.error(
        { code: e.serverCode ?? e.code, status: e.status, reason: this.#reason, attempt: this.#failures, delayMs },
        renewing ? 'certificate renewal failed' : 'enrollment failed',
      );
      this.#after(delayMs, () => void this.#enroll());
    }
  }

  /** Writes agent.crt, agent.key (0600) and ca.crt atomically; a failure is logged, the pair still used. */
  async #save(certPem: string, keyPem: string, caPem: string): Promise<void> {
    try {
      await writePemFiles(this.config.certDir, 'agent', { certPem, keyPem });
      await writePemFiles(this.config.certDir, 'ca', { certPem: caPem });
    } catch (err) {
      const cause = (err as Error).cause as Error | undefined;
      this.log.error(
        { reason: `${(err as Error).message}${cause ? `: ${cause.message}` : ''}`, certDir: this.config.certDir },
        'enrolled certificate not saved (the next start enrolls again)',
      );
    }
  }

  /** Renews when less than renewBefore of the lifetime remains. */
  #scheduleRenewal(id: CertIdentity, fresh: boolean): void {
    const notAfter = id.notAfter.getTime();
    const renewAt = notAfter - this.config.renewBefore * (notAfter - id.notBefore.getTime());
    let delayMs = Math.max(0, renewAt - Date.now());
    if (delayMs === 0 && fresh) {
      // a certificate due as soon as issued would renew in a loop: wait half of what remains
      delayMs = Math.max(MIN_RENEW_DELAY_MS, (notAfter - Date.now()) / 2);
      this.log.warn(
        {
          notAfter: id.notAfter.toISOString(),
          delayMs,
          reason: `a new certificate is already inside its renewal window (--renew-before ${this.config.renewBefore})`,
        },
        'certificate lifetime too short',
      );
    }
    this.log.debug({ delayMs, renewAt: new Date(Date.now() + delayMs).toISOString() }, 'certificate renewal scheduled');
    this.#after(delayMs, () => void this.#enroll());
  }

  #after(delayMs: number, fn: () => void): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    const step = Math.min(delayMs, MAX_TIMER_MS);
    this.#timer = setTimeout(() => (step < delayMs ? this.#after(delayMs - step, fn) : fn()), step);
    this.#timer.unref();
  }
}

async function readToken(path: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new AgentError(AgentErrorCode.ENROLL, `cannot read --bootstrap-token-file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (token === '') throw new AgentError(AgentErrorCode.ENROLL, `--bootstrap-token-file ${path} is empty`);
  return token;
}
