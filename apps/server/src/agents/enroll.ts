// Enrollment on the agent port: a TLS connection that negotiated ALPN `edge-tunnel-enroll/1` needs no
// client certificate and speaks HTTP/1.1 to one endpoint, POST /v1/enroll, which trades a bootstrap
// token and a CSR for a certificate. The signing itself is an injected Enroller (libs/kube in a cluster).
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { EnrollRequest, PresentedCert } from '@edge-tunnel/kube';
import type { Logger } from '../logger.js';

/** ALPN protocols of the agent port. */
export const AgentAlpn = {
  /** a framing session (clients that offer no ALPN get one too) */
  SESSION: 'edge-tunnel/1',
  /** a framing session over a resumable link (framing spec §10); picked only with --resume-grace-ms > 0 */
  RESUME: 'edge-tunnel-resume/1',
  /** one enrollment request over HTTP/1.1; no client certificate needed */
  ENROLL: 'edge-tunnel-enroll/1',
} as const;
export type AgentAlpn = (typeof AgentAlpn)[keyof typeof AgentAlpn];

export const ENROLL_PATH = '/v1/enroll';
/** Largest request body accepted (a CSR is ~1 KiB). */
export const ENROLL_MAX_BODY_BYTES = 64 * 1024;
/** The request head must arrive within this after the handshake. */
export const ENROLL_HEADERS_TIMEOUT_MS = 10_000;
/** The body must arrive within this after the head. */
export const ENROLL_BODY_TIMEOUT_MS = 10_000;
/** Enrollment requests allowed per remote address and window. */
export const ENROLL_RATE_LIMIT: RateLimit = { max: 10, windowMs: 60_000 };

/** `code` of an error answer, with its HTTP status. */
export const EnrollCode = {
  /** 401: no bootstrap token, or one the enroller does not accept */
  BAD_TOKEN: 'BAD_TOKEN',
  /** 404: the node does not exist */
  UNKNOWN_NODE: 'UNKNOWN_NODE',
  /** 403: the Node matches no edge selector */
  NOT_EDGE_NODE: 'NOT_EDGE_NODE',
  /** 401: the token is past its expiration (or its policy cannot be read) */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** 403: the token is bound to other nodes */
  TOKEN_NOT_FOR_NODE: 'TOKEN_NOT_FOR_NODE',
  /** 403: the token has enrolled its max-uses nodes */
  TOKEN_USED_UP: 'TOKEN_USED_UP',
  /** 409: the node holds an unexpired certificate; only that certificate renews (or an operator clears the record) */
  ALREADY_ENROLLED: 'ALREADY_ENROLLED',
  /** 400: the CSR is missing, unparsable or badly signed */
  BAD_CSR: 'BAD_CSR',
  /** 400: the body is not JSON `{ nodeName, csr }` */
  BAD_REQUEST: 'BAD_REQUEST',
  /** 413: the body is larger than ENROLL_MAX_BODY_BYTES */
  TOO_LARGE: 'TOO_LARGE',
  /** 404: any path but /v1/enroll */
  NOT_FOUND: 'NOT_FOUND',
  /** 405: any method but POST */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** 429: too many requests from this address */
  RATE_LIMITED: 'RATE_LIMITED',
  /** 503: the server runs without an enroller */
  NOT_ENABLED: 'NOT_ENABLED',
  /** 500: the enroller failed for another reason (details only in the server log) */
  INTERNAL: 'INTERNAL',
} as const;
export type EnrollCode = (typeof EnrollCode)[keyof typeof EnrollCode];

const STATUS: Record<EnrollCode, number> = {
  BAD_TOKEN: 401,
  UNKNOWN_NODE: 404,
  NOT_EDGE_NODE: 403,
  TOKEN_EXPIRED: 401,
  TOKEN_NOT_FOR_NODE: 403,
  TOKEN_USED_UP: 403,
  ALREADY_ENROLLED: 409,
  BAD_CSR: 400,
  BAD_REQUEST: 400,
  TOO_LARGE: 413,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  RATE_LIMITED: 429,
  NOT_ENABLED: 503,
  INTERNAL: 500,
};

/** Enroller error codes (KubeError in libs/kube) → answer codes; anything else is INTERNAL. */
const ENROLLER_CODES: Record<string, EnrollCode> = {
  ERR_KUBE_ENROLL_BAD_TOKEN: EnrollCode.BAD_TOKEN,
  ERR_KUBE_ENROLL_UNKNOWN_NODE: EnrollCode.UNKNOWN_NODE,
  ERR_KUBE_ENROLL_BAD_CSR: EnrollCode.BAD_CSR,
  ERR_KUBE_ENROLL_NOT_EDGE_NODE: EnrollCode.NOT_EDGE_NODE,
  ERR_KUBE_ENROLL_TOKEN_EXPIRED: EnrollCode.TOKEN_EXPIRED,
  ERR_KUBE_ENROLL_TOKEN_NOT_FOR_NODE: EnrollCode.TOKEN_NOT_FOR_NODE,
  ERR_KUBE_ENROLL_TOKEN_USED_UP: EnrollCode.TOKEN_USED_UP,
  ERR_KUBE_ENROLL_ALREADY_ENROLLED: EnrollCode.ALREADY_ENROLLED,
};

export type { EnrollRequest, PresentedCert };

/** Signs an agent's CSR once the token and node check out; libs/kube's Enroller fits. */
export interface Enroller {
  enroll(req: EnrollRequest): Promise<{ certPem: string; caPem: string }>;
}

export interface RateLimit {
  max: number;
  windowMs: number;
}

export interface EnrollHandlerOptions {
  /** absent: every request answers 503 NOT_ENABLED */
  enroller?: Enroller;
  log: Logger;
  /** default ENROLL_RATE_LIMIT */
  rateLimit?: RateLimit;
  /** default ENROLL_HEADERS_TIMEOUT_MS */
  headersTimeoutMs?: number;
}

export interface EnrollHandler {
  /** Serves one TLS connection that negotiated AgentAlpn.ENROLL (one request, then close). */
  handle(socket: TLSSocket): void;
}

class Refusal extends Error {
  /** `nodeName`: the name the request claimed, when it got that far */
  constructor(
    readonly code: EnrollCode,
    reason: string,
    readonly nodeName?: string,
  ) {
    super(reason);
  }
}

/** Fixed-window counter per remote address; stale windows are swept once per window. */
class RateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();
  #swept = Date.now();
  constructor(readonly limit: RateLimit) {}

  take(key: string, now = Date.now()): boolean {
    if (now - this.#swept >= this.limit.windowMs) {
      for (const [k, w] of this.#windows) if (now - w.start >= this.limit.windowMs) this.#windows.delete(k);
      this.#swept = now;
    }
    const w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.limit.windowMs) {
      this.#windows.set(key, { start: now, count: 1 });
      return true;
    }
    w.count += 1;
    return w.count <= this.limit.max;
  }
}

export function createEnrollHandler(opts: EnrollHandlerOptions): EnrollHandler {
  const { log } = opts;
  const limiter = new RateLimiter(opts.rateLimit ?? ENROLL_RATE_LIMIT);
  const headersTimeoutMs = opts.headersTimeoutMs ?? ENROLL_HEADERS_TIMEOUT_MS;
  // http.Server's own header/request timeouts only run for servers that listen; these are ours.
  const deadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const deadline = (socket: Socket, ms: number, reason: string): void => {
    clearTimeout(deadlines.get(socket));
    deadlines.set(
      socket,
      setTimeout(() => {
        log.warn({ remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`, code: 'TIMEOUT', reason }, 'enrollment refused');
        socket.destroy();
      }, ms),
    );
  };
  const http = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => void serve(req, res));

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket;
    const remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    deadline(socket, ENROLL_BODY_TIMEOUT_MS, `no complete request body within ${ENROLL_BODY_TIMEOUT_MS} ms`);
    let nodeName: string | undefined;
    try {
      const body = await admit(req, socket.remoteAddress ?? '');
      nodeName = body.nodeName;
      clearTimeout(deadlines.get(socket));
      const current = presentedCert(socket as TLSSocket);
      // a renewal is authenticated by the current certificate; a token is needed otherwise
      const token = current !== undefined && req.headers.authorization === undefined ? '' : bearerToken(req.headers.authorization);
      const signed = await enroll(opts.enroller!, { token, nodeName, csrPem: body.csr, ...(current ? { current } : {}) });
      log.info({ remoteAddress, nodeName }, 'agent enrolled');
      reply(res, 200, { certificate: signed.certPem, ca: signed.caPem });
    } catch (err) {
      clearTimeout(deadlines.get(socket));
      if (socket.destroyed) return void log.debug({ remoteAddress, nodeName, reason: (err as Error).message }, 'enrollment abandoned');
      if (!(err instanceof Refusal)) {
        log.error({ remoteAddress, nodeName, err, reason: (err as Error).message }, 'enrollment failed');
        return reply(res, 500, { code: EnrollCode.INTERNAL, reason: 'the server could not sign the certificate; see the server log' });
      }
      log.warn({ remoteAddress, nodeName: nodeName ?? err.nodeName, code: err.code, reason: err.message }, 'enrollment refused');
      reply(res, STATUS[err.code], { code: err.code, reason: err.message });
    }
  }

  /** Route, rate limit, enabled, body: everything checked before the enroller is asked. */
  async function admit(req: IncomingMessage, ip: string): Promise<{ nodeName: string; csr: string }> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path !== ENROLL_PATH) throw new Refusal(EnrollCode.NOT_FOUND, `no endpoint ${path.slice(0, 100)} here: enrollment is POST ${ENROLL_PATH}`);
    if (req.method !== 'POST') throw new Refusal(EnrollCode.METHOD_NOT_ALLOWED, `enrollment is POST ${ENROLL_PATH}, not ${req.method}`);
    const { max, windowMs } = limiter.limit;
    if (!limiter.take(ip))
      throw new Refusal(EnrollCode.RATE_LIMITED, `more than ${max} enrollment requests from ${ip} within ${windowMs / 1000} s; retry later`);
    if (opts.enroller === undefined) throw new Refusal(EnrollCode.NOT_ENABLED, 'enrollment is not enabled on this server');
    return parseBody(await readBody(req));
  }

  return {
    handle(socket: TLSSocket): void {
      deadline(socket, headersTimeoutMs, `no request head within ${headersTimeoutMs} ms`);
      socket.once('close', () => clearTimeout(deadlines.get(socket)));
      http.emit('connection', socket);
    },
  };
}

/** Asks the enroller; its errors become refusals by their `code`, unknown ones stay errors (500). */
async function enroll(enroller: Enroller, req: EnrollRequest): Promise<{ certPem: string; caPem: string }> {
  try {
    return await enroller.enroll(req);
  } catch (err) {
    const code = ENROLLER_CODES[String((err as { code?: unknown })?.code)];
    if (code !== undefined) throw new Refusal(code, String((err as Error).message).slice(0, 500));
    throw err;
  }
}

/** The client certificate of the connection, when one was sent and the agent CA verified it. */
export function presentedCert(socket: TLSSocket): PresentedCert | undefined {
  if (!socket.authorized) return undefined;
  const x509 = socket.getPeerX509Certificate?.();
  if (x509 === undefined) return undefined;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? '';
  return { commonName: cn, serial: x509.serialNumber, notBefore: new Date(x509.validFrom), notAfter: new Date(x509.validTo) };
}

function bearerToken(header: string | undefined): string {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
  if (!m) throw new Refusal(EnrollCode.BAD_TOKEN, 'no bootstrap token: send the header Authorization: Bearer <token>');
  return m[1]!;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const tooLarge = new Refusal(EnrollCode.TOO_LARGE, `request body larger than ${ENROLL_MAX_BODY_BYTES} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > ENROLL_MAX_BODY_BYTES) throw tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > ENROLL_MAX_BODY_BYTES) throw tooLarge;
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof Refusal) throw err;
    throw new Refusal(EnrollCode.BAD_REQUEST, `the request body could not be read: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string): { nodeName: string; csr: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new Refusal(EnrollCode.BAD_REQUEST, `request body is not JSON: ${(err as Error).message}`);
  }
  const { nodeName, csr } = (body ?? {}) as Record<string, unknown>;
  if (typeof nodeName !== 'string' || nodeName === '' || nodeName.length > 253) {
    throw new Refusal(EnrollCode.BAD_REQUEST, 'request body must be JSON { "nodeName": "<node>", "csr": "<PEM>" }: nodeName is missing or not a node name');
  }
  if (typeof csr !== 'string' || csr.trim() === '') {
    throw new Refusal(EnrollCode.BAD_CSR, 'request body must be JSON { "nodeName": "<node>", "csr": "<PEM>" }: csr is missing', nodeName);
  }
  return { nodeName, csr };
}

function reply(res: ServerResponse, status: number, body: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const code = typeof body['code'] === 'string' ? { 'x-tunnel-error': body['code'] } : {};
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', connection: 'close', ...code });
  res.end(`${JSON.stringify(body)}\n`);
}
