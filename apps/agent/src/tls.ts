// TLS to the server: credentials (re-read on every dial, so rotated files take effect on the next
// connection) and a sentence an operator understands for each way a connection can fail.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { AgentError, AgentErrorCode } from './errors.js';
import type { AgentConfig } from './config.js';

export interface Credentials {
  cert: string;
  key: string;
  ca: string;
}

export async function loadCredentials(config: Pick<AgentConfig, 'certFile' | 'keyFile' | 'caFile'>): Promise<Credentials> {
  const read = async (what: string, path: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw new AgentError(AgentErrorCode.CREDENTIALS, `cannot read ${what} file ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [cert, key, ca] = await Promise.all([read('certificate', config.certFile), read('key', config.keyFile), read('CA', config.caFile)]);
  return { cert, key, ca };
}

/** Opens the TLS connection (the caller waits for 'secureConnect' or 'error'). */
export function connectServer(config: AgentConfig, creds: Credentials): TLSSocket {
  const { host, port } = config.server;
  const name = config.serverName;
  // allowHalfOpen is honoured by tls.connect (it passes it to the TLSSocket) but missing from its typings
  const options: ConnectionOptions & { allowHalfOpen: boolean } = {
    host,
    port,
    ...creds,
    // SNI must be a DNS name (RFC 6066); an IP name is still verified against the certificate's IP SANs
    servername: isIP(name) === 0 ? name : undefined,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
    minVersion: 'TLSv1.2',
    allowHalfOpen: true,
    rejectUnauthorized: true,
  };
  return connect(options);
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** What kind of failure `err` is, with a reason naming the likely fix. */
export function describeConnectError(err: NodeJS.ErrnoException, serverAddr: string): { kind: 'unreachable' | 'tls_error'; reason: string } {
  const code = err.code ?? '';
  const detail = `${code ? `${code}: ` : ''}${err.message}`;
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
