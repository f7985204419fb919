// Binding an agent's hello to its certificate: the node name comes from the certificate's CN and
// the node IPs must be among its SAN IPs. A certificate for node A can never register node B.
import type { TLSSocket } from 'node:tls';
import { normalizeIp, normalizeNodeName, parsePortCeiling } from '@edge-tunnel/dnat';
import type { PortCeiling } from '@edge-tunnel/dnat';
import { certIdentity } from '@edge-tunnel/pki';

/** What the agent's client certificate says. */
export interface PeerIdentity {
  commonName: string;
  ips: string[];
  /** ms since the epoch */
  notBefore?: number;
  serial?: string;
}

/** What the hello established, once checked. */
export interface CheckedHello {
  ok: true;
  nodeName: string;
  nodeIps: string[];
  agentVersion: string;
  /** the hello's `portCeiling`, when present and well-formed */
  portCeiling?: PortCeiling;
}

/** Reads the verified peer certificate of an agent connection. */
export function peerIdentity(socket: TLSSocket): PeerIdentity {
  const x509 = socket.getPeerX509Certificate();
  if (x509 === undefined) throw new Error('no client certificate');
  const id = certIdentity(x509.toString());
  return { commonName: id.commonName, ips: id.ips, notBefore: id.notBefore.getTime(), serial: x509.serialNumber };
}

/** Why a TLS socket that completed the handshake is not authorized, as an operator sentence. */
export function authFailure(socket: TLSSocket): { code: string; reason: string } {
  const code = String(socket.authorizationError ?? 'UNKNOWN');
  if (Object.keys(socket.getPeerCertificate() ?? {}).length === 0) {
    return { code: 'NO_CLIENT_CERT', reason: 'the agent presented no client certificate' };
  }
  const reasons: Record<string, string> = {
    CERT_HAS_EXPIRED: 'the agent certificate has expired',
    CERT_NOT_YET_VALID: 'the agent certificate is not yet valid',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the agent certificate is not signed by the agent CA',
    UNABLE_TO_GET_ISSUER_CERT: 'the agent certificate is not signed by the agent CA',
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the agent certificate is not signed by the agent CA',
    SELF_SIGNED_CERT_IN_CHAIN: 'the agent certificate chains to a CA that is not the agent CA',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'the agent certificate is self-signed',
    CERT_SIGNATURE_FAILURE: 'the agent certificate signature is invalid',
  };
  return { code, reason: reasons[code] ?? `the agent certificate was not accepted (${code})` };
}

/** Checks the hello against the certificate; the reason names both sides on a mismatch. */
export function checkHello(hello: Record<string, unknown>, id: PeerIdentity): CheckedHello | { ok: false; reason: string } {
  const certName = normalizeNodeName(id.commonName);
  if (certName === undefined) return { ok: false, reason: `certificate CN ${JSON.stringify(id.commonName)} is not a node name` };
  if (hello['version'] !== 1) return { ok: false, reason: `unsupported hello version ${JSON.stringify(hello['version'])} (server speaks 1)` };
  const claimed = hello['nodeName'];
  if (typeof claimed !== 'string' || normalizeNodeName(claimed) !== certName) {
    return { ok: false, reason: `certificate names node ${certName} but hello claims ${JSON.stringify(claimed)}` };
  }
  const rawIps = hello['nodeIps'] ?? [];
  if (!Array.isArray(rawIps) || !rawIps.every((ip) => typeof ip === 'string')) {
    return { ok: false, reason: 'hello nodeIps must be an array of IP strings' };
  }
  const certIps = new Set(id.ips.map((ip) => normalizeIp(ip)));
  const nodeIps: string[] = [];
  for (const ip of rawIps as string[]) {
    const canonical = normalizeIp(ip);
    if (canonical === undefined || !certIps.has(canonical)) {
      return {
        ok: false,
        reason: `certificate for node ${certName} does not list IP ${ip} claimed in the hello (certificate IPs: ${id.ips.join(', ') || 'none'})`,
      };
    }
    nodeIps.push(canonical);
  }
  const version = hello['agentVersion'];
  const portCeiling = parsePortCeiling(hello['portCeiling']);
  return {
    ok: true,
    nodeName: certName,
    nodeIps,
    agentVersion: typeof version === 'string' ? version.slice(0, 64) : 'unknown',
    ...(portCeiling ? { portCeiling } : {}),
  };
}
