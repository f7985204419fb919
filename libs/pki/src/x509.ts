// Shared pieces of certificate construction: serials, validity windows, subjects, and reading a
// CA bundle back into forge objects.
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { PkiError, PkiErrorCode, wrapPki } from './errors.js';
import { publicOf, samePublicKey } from './keys.js';

/** A CA certificate and its private key, both PEM. */
export interface CaBundle {
  certPem: string;
  keyPem: string;
}

/** Serial numbers carry 127 random bits (RFC 5280 allows up to 20 octets; CAB forum asks ≥ 64 bits). */
const SERIAL_BYTES = 16;
/** notBefore is backdated by this much so that peers with a slightly slow clock accept new certs. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A random positive serial as hex: first byte 0x01–0x7f, so the DER INTEGER is positive and minimal. */
export function randomSerialHex(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

export interface ValidityOptions {
  validityDays?: number;
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * The validity window. Defaults: notBefore = now − CLOCK_SKEW_MS; notAfter = notBefore + days.
 * With only notAfter given, notBefore = notAfter − days (so expired certificates can be made).
 */
export function validityWindow(opts: ValidityOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const days = opts.validityDays ?? defaultDays;
  if (!Number.isFinite(days) || days <= 0) {
    throw new PkiError(PkiErrorCode.INVALID_OPTIONS, `validityDays must be a positive number, got ${days}`);
  }
  for (const [field, date] of [
    ['notBefore', opts.notBefore],
    ['notAfter', opts.notAfter],
  ] as const) {
    if (date !== undefined && (!(date instanceof Date) || Number.isNaN(date.getTime()))) {
      throw new PkiError(PkiErrorCode.INVALID_OPTIONS, `${field} must be a valid Date`);
    }
  }
  const notBefore = opts.notBefore ?? (opts.notAfter ? new Date(opts.notAfter.getTime() - days * DAY_MS) : new Date(Date.now() - CLOCK_SKEW_MS));
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new PkiError(PkiErrorCode.INVALID_OPTIONS, 'notAfter must be later than notBefore');
  }
  return { notBefore, notAfter };
}

/** Subject attributes: one CN, then one O per organization, in order. */
export function subjectAttrs(commonName: string, organization: readonly string[] = []): forge.pki.CertificateField[] {
  return [{ shortName: 'CN', value: commonName }, ...organization.map((o) => ({ shortName: 'O', value: o }))];
}

/** A CA bundle read back into forge objects, checked to be a usable CA. */
export interface LoadedCa {
  cert: forge.pki.Certificate;
  privateKey: forge.pki.rsa.PrivateKey;
  /** The CA's subjectKeyIdentifier bytes (binary string), for authorityKeyIdentifier. */
  keyIdentifier: string;
}

export function loadCa(ca: CaBundle): LoadedCa {
  const cert = wrapPki(PkiErrorCode.INVALID_CA, 'CA certificate is not an RSA X.509 certificate PEM', () => forge.pki.certificateFromPem(ca.certPem));
  const basic = cert.getExtension('basicConstraints') as { cA?: boolean } | undefined;
  if (!basic?.cA) {
    throw new PkiError(PkiErrorCode.INVALID_CA, 'CA certificate does not have basicConstraints cA=true');
  }
  const privateKey = wrapPki(PkiErrorCode.INVALID_CA, 'CA key is not an unencrypted RSA private key PEM', () => forge.pki.privateKeyFromPem(ca.keyPem));
  if (!samePublicKey(publicOf(privateKey), cert.publicKey as forge.pki.rsa.PublicKey)) {
    throw new PkiError(PkiErrorCode.INVALID_CA, 'CA key does not belong to the CA certificate');
  }
  const ski = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  const keyIdentifier = ski?.subjectKeyIdentifier ? forge.util.hexToBytes(ski.subjectKeyIdentifier) : cert.generateSubjectKeyIdentifier().getBytes();
  return { cert, privateKey, keyIdentifier };
}

/** Signs with SHA-256 and returns the PEM. */
export function signToPem(cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey): string {
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}
