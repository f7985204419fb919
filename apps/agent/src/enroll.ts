// Enrollment client: one HTTP/1.1 request, POST /v1/enroll, over a TLS connection to the server's
// agent port that negotiates ALPN edge-tunnel-enroll/1. No client certificate is sent; the server is
// verified against --ca exactly like a session. It answers { certificate, ca } or { code, reason }.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:tls';
import { certIdentity, createCsr } from '@edge-tunnel/pki';
import type { CertIdentity, KeyPairPem } from '@edge-tunnel/pki';
import type { AgentConfig } from './config.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { Alpn, describeConnectError, serverTlsOptions } from './tls.js';
import { ProxyError } from './proxy-connect.js';
import { tunnelFor } from './proxy-dial.js';

export const ENROLL_PATH = '/v1/enroll';
/** Largest answer read from the server (a certificate and a CA are a few KiB). */
export const MAX_ANSWER_BYTES = 256 * 1024;

/** A failed enrollment; `status` and `serverCode` are set when the server answered. */
export class EnrollError extends AgentError {
  constructor(
    message: string,
    readonly status?: number,
    readonly serverCode?: string,
    options?: { cause?: unknown },
  ) {
    super(AgentErrorCode.ENROLL, message, options);
    this.name = 'EnrollError';
  }
}

export interface EnrollOptions {
  /** the bootstrap token (sent as Authorization: Bearer) */
  token: string;
  /** the key the certificate is for; only a CSR leaves the agent */
  key: KeyPairPem;
  /** PEM of --ca, which verifies the server */
  ca: string;
  /** the current, unexpired certificate: presented on the enrollment connection, it authenticates a renewal */
  current?: { cert: string; key: string };
  /** aborts the request (agent stopping) */
  signal?: AbortSignal;
}

export interface Enrolled {
  certPem: string;
  keyPem: string;
  caPem: string;
  identity: CertIdentity;
}

/** Asks the server to sign a CSR for `opts.key`; the certificate is checked before it is returned. */
export async function enroll(config: AgentConfig, opts: EnrollOptions): Promise<Enrolled> {
  const csr = createCsr(opts.key, config.nodeName);
  const { status, text } = await post(config, opts, JSON.stringify({ nodeName: config.nodeName, csr }));
  let answer: Record<string, unknown> = {};
  try {
    answer = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the text itself is the best reason there is
  }
  if (status !== 200) {
    const code = typeof answer['code'] === 'string' ? answer['code'].slice(0, 64) : undefined;
    const reason = typeof answer['reason'] === 'string' ? answer['reason'] : text.trim().slice(0, 200) || 'no reason given';
    throw new EnrollError(`server refused enrollment (${status}${code ? ` ${code}` : ''}): ${reason.slice(0, 500)}`, status, code);
  }
  const certPem = answer['certificate'];
  const caPem = answer['ca'];
  if (typeof certPem !== 'string' || typeof caPem !== 'string') {
    throw new EnrollError('server answered 200 without { certificate, ca } in its body', status);
  }
  try {
    return { certPem, keyPem: opts.key.privateKeyPem, caPem, identity: checkCertificate(certPem, opts.key.privateKeyPem, config.nodeName) };
  } catch (err) {
    throw new EnrollError(`server issued an unusable certificate: ${(err as Error).message}`, status);
  }
}

/** The certificate's identity if it names `nodeName`, belongs to `keyPem` and is valid now; else throws a reason. */
export function checkCertificate(certPem: string, keyPem: string, nodeName: string, now = Date.now()): CertIdentity {
  const id = certIdentity(certPem);
  if (id.commonName.toLowerCase() !== nodeName.toLowerCase()) throw new Error(`it is for ${JSON.stringify(id.commonName)}, not node ${nodeName}`);
  if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) throw new Error('it does not belong to the private key');
  if (id.notAfter.getTime() <= now) throw new Error(`it expired at ${id.notAfter.toISOString()}`);
  if (id.notBefore.getTime() > now) throw new Error(`it is not valid before ${id.notBefore.toISOString()}`);
  return id;
}

/** One POST over its own TLS connection; resolves with the status and body text, whatever the status. */
async function post(config: AgentConfig, opts: EnrollOptions, body: string): Promise<{ status: number; text: string }> {
  const serverAddr = `${config.server.host}:${config.server.port}`;
  const timeoutMs = config.keepaliveTimeoutMs;
  const tunnel = await tunnelFor(config, opts.signal).catch((err: unknown) => {
    throw err instanceof ProxyError ? new EnrollError(`enrollment: ${err.message}`, undefined, err.failure, { cause: err }) : err;
  });
  return new Promise((resolve, reject) => {
    const socket = connect({
      ...serverTlsOptions(config, opts.ca, Alpn.ENROLL),
      ...(tunnel ? { socket: tunnel } : {}),
      ...(opts.current ? { cert: opts.current.cert, key: opts.current.key } : {}),
    });
    let settled = false;
    const finish = (err: Error | undefined, value?: { status: number; text: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new EnrollError(`no enrollment answer from ${serverAddr} within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = (): void => finish(new EnrollError('enrollment cancelled: the agent is stopping'));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err: NodeJS.ErrnoException) => finish(new EnrollError(describeEnrollError(err, serverAddr), undefined, undefined, { cause: err })));
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== Alpn.ENROLL) return finish(new EnrollError(notOffered(serverAddr)));
      const req = request(
        {
          createConnection: () => socket,
          method: 'POST',
          path: ENROLL_PATH,
          headers: { host: config.serverName, 'content-type': 'application/json', authorization: `Bearer ${opts.token}`, connection: 'close' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES)
              return finish(new EnrollError(`enrollment answer from ${serverAddr} is larger than ${MAX_ANSWER_BYTES} bytes`, res.statusCode));
            chunks.push(chunk);
          });
          res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => finish(new EnrollError(`enrollment answer from ${serverAddr} broke off: ${err.message}`, res.statusCode)));
        },
      );
      req.on('error', (err) => finish(new EnrollError(`enrollment request to ${serverAddr} failed: ${err.message}`, undefined, undefined, { cause: err })));
      req.end(body);
    });
  });
}

function notOffered(serverAddr: string): string {
  return `server ${serverAddr} does not offer enrollment (ALPN ${Alpn.ENROLL} not negotiated): upgrade the server, or give --cert and --key`;
}

function describeEnrollError(err: NodeJS.ErrnoException, serverAddr: string): string {
  if (/NO_APPLICATION_PROTOCOL/i.test(err.code ?? '')) return notOffered(serverAddr);
  return describeConnectError(err, serverAddr).reason.replace(/^our client certificate was rejected.*?: /, `TLS handshake with ${serverAddr} failed: `);
}
