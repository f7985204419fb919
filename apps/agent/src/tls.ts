// TLS to the server: credential files, connection options (ALPN picks session or enrollment on the
// one agent port) and a sentence an operator understands for each way a connection can fail.
import { readFile } from 'node:fs/promises';
import { isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { PROOF_REFUSED } from '@edge-tunnel/websocket';
import { AgentError, AgentErrorCode } from './errors.js';
import type { AgentConfig } from './config.js';

/** ALPN protocols of the server's agent port. */
export const Alpn = {
  /** a framing session */
  SESSION: 'edge-tunnel/1',
  /** a framing session over a resumable link (framing spec §10), offered before SESSION */
  RESUME: 'edge-tunnel-resume/1',
  /** one enrollment request over HTTP/1.1, without a client certificate */
  ENROLL: 'edge-tunnel-enroll/1',
} as const;
export type Alpn = (typeof Alpn)[keyof typeof Alpn];

export interface Credentials {
  cert: string;
  key: string;
  ca: string;
}

export async function loadCredentials(files: { certFile: string; keyFile: string; caFile: string }): Promise<Credentials> {
  const [cert, key, ca] = await Promise.all([readPem('certificate', files.certFile), readPem('key', files.keyFile), readPem('CA', files.caFile)]);
  return { cert, key, ca };
}

/** Reads one PEM file; AgentError CREDENTIALS naming the file when it cannot be read. */
export async function readPem(what: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new AgentError(AgentErrorCode.CREDENTIALS, `cannot read ${what} file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Opens the TLS connection, inside `tunnel` when a proxy carries it (the caller waits for 'secureConnect' or 'error'). */
export function connectServer(config: AgentConfig, creds: Credentials, tunnel?: Socket): TLSSocket {
  const options = serverTlsOptions(config, creds.ca, Alpn.SESSION);
  // an older server does not know RESUME and picks SESSION: the plain session, as before
  if (config.resume) options.ALPNProtocols = [Alpn.RESUME, Alpn.SESSION];
  return connect({ ...options, cert: creds.cert, key: creds.key, ...(tunnel ? { socket: tunnel } : {}) });
}

/** Options shared by session and enrollment connections: server, verification, ALPN. */
export function serverTlsOptions(config: AgentConfig, ca: string, alpn: Alpn): ConnectionOptions & { allowHalfOpen: boolean } {
  const name = config.serverName;
  // allowHalfOpen is honoured by tls.connect (it passes it to the TLSSocket) but missing from its typings
  return {
    host: config.server.host,
    port: config.server.port,
    ca,
    // SNI must be a DNS name (RFC 6066); an IP name is still verified against the certificate's IP SANs
    servername: isIP(name) === 0 ? name : undefined,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
    minVersion: 'TLSv1.2',
    ALPNProtocols: [alpn],
    allowHalfOpen: true,
    rejectUnauthorized: true,
  };
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** What kind of failure `err` is, with a reason naming the likely fix. */
export function describeConnectError(err: NodeJS.ErrnoException, serverAddr: string): { kind: 'unreachable' | 'tls_error'; reason: string } {
  const code = err.code ?? '';
  const detail = `${code ? `${code}: ` : ''}${err.message}`;
  if (code === PROOF_REFUSED) return { kind: 'tls_error', reason: `${err.message} (check --cert/--key and the agent CA the server trusts)` };
  if (UNREACHABLE.has(code)) return { kind: 'unreachable', reason: `server ${serverAddr} unreachable: ${detail}` };
  if (/ALERT|CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE/i.test(code) || /alert/i.test(err.message)) {
    return { kind: 'tls_error', reason: `our client certificate was rejected by the server (check --cert/--key and the CA the server trusts): ${detail}` };
  }
  if (/CERT|SELF_SIGNED|LEAF_SIGNATURE|ALTNAME|ISSUER/i.test(code)) {
    return { kind: 'tls_error', reason: `server certificate rejected (check --ca and --server-name): ${detail}` };
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return { kind: 'tls_error', reason: `TLS handshake with ${serverAddr} failed: ${detail}` };
  return { kind: 'unreachable', reason: `connection to ${serverAddr} failed: ${detail}` };
}
