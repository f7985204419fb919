// Certificate signing requests for enrollment. The CSR only proves possession of a key: the server
// decides the identity, so signCsr ignores the subject and SANs the CSR claims.
import forge from 'node-forge';
import { PkiError, PkiErrorCode, wrapPki } from './errors.js';
import { planLeaf, signLeaf } from './issue.js';
import { readKeyPair } from './keys.js';
import type { KeyPairPem } from './keys.js';
import { checkNodeName } from './names.js';
import { loadCa, subjectAttrs } from './x509.js';
import type { CaBundle } from './x509.js';

export interface SignCsrOptions {
  /** The identity the server grants: CN and DNS SAN. */
  nodeName: string;
  /** The node's addresses, as IP SANs. */
  ips: string[];
  /** Default 365. */
  validityDays?: number;
}

/** Smallest RSA modulus accepted in a CSR (NIST SP 800-57: 2048 bits through 2030). */
export const MIN_CSR_RSA_BITS = 2048;
/** Largest one: verifying and signing for larger keys only costs the server CPU. */
export const MAX_CSR_RSA_BITS = 8192;

/** A certificate issued for someone else's key: no private key here. */
export interface SignedCert {
  certPem: string;
  caPem: string;
}

/** A PKCS#10 CSR (PEM) for `key`, claiming CN = nodeName, O = system:nodes. */
export function createCsr(key: KeyPairPem, nodeName: string): string {
  checkNodeName(nodeName);
  const { privateKey, publicKey } = readKeyPair(key);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = publicKey;
  csr.setSubject(subjectAttrs(nodeName, ['system:nodes']));
  csr.sign(privateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/** Verifies the CSR's signature and issues an agent certificate for its key with the given identity. */
export async function signCsr(ca: CaBundle, csrPem: string, opts: SignCsrOptions): Promise<SignedCert> {
  const plan = planLeaf({ profile: 'agent', commonName: opts.nodeName, ips: opts.ips, validityDays: opts.validityDays });
  const loaded = loadCa(ca);
  const csr = wrapPki(PkiErrorCode.INVALID_CSR, 'CSR is not a PEM PKCS#10 request with an RSA key', () => forge.pki.certificationRequestFromPem(csrPem));
  const verified = wrapPki(PkiErrorCode.INVALID_CSR, 'CSR signature could not be checked', () => csr.verify());
  if (!verified) throw new PkiError(PkiErrorCode.INVALID_CSR, 'CSR signature does not match its public key');
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  /* c8 ignore next */
  if (!publicKey) throw new PkiError(PkiErrorCode.INVALID_CSR, 'CSR has no public key');
  checkKeySize(publicKey);
  return { certPem: signLeaf(loaded, publicKey, plan), caPem: ca.certPem };
}

/** RSA only (node-forge reads no EC key), MIN_CSR_RSA_BITS to MAX_CSR_RSA_BITS bits. */
function checkKeySize(key: forge.pki.rsa.PublicKey): void {
  const bits = key.n.bitLength();
  if (bits < MIN_CSR_RSA_BITS || bits > MAX_CSR_RSA_BITS) {
    throw new PkiError(PkiErrorCode.INVALID_CSR, `CSR key is RSA ${bits} bits; an agent key must be RSA ${MIN_CSR_RSA_BITS} to ${MAX_CSR_RSA_BITS} bits`);
  }
}
