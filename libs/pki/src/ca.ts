// A self-signed root CA for standalone deployments (in a cluster the CA comes from a Secret).
import forge from 'node-forge';
import { generateKeyPair, readKeyPair } from './keys.js';
import type { KeyPairPem } from './keys.js';
import { checkDnValue } from './names.js';
import { randomSerialHex, signToPem, subjectAttrs, validityWindow } from './x509.js';
import type { CaBundle } from './x509.js';

export interface CreateCaOptions {
  commonName: string;
  /** Default 3650 (ten years). */
  validityDays?: number;
  /** Reuse this key instead of generating one. */
  key?: KeyPairPem;
}

const DEFAULT_CA_DAYS = 3650;

/** Creates a self-signed CA: basicConstraints cA (critical), keyUsage keyCertSign + cRLSign, SKI. */
export async function createCa(opts: CreateCaOptions): Promise<CaBundle> {
  const commonName = checkDnValue('CA commonName', opts.commonName);
  const window = validityWindow({ validityDays: opts.validityDays }, DEFAULT_CA_DAYS);
  const pair = opts.key ?? (await generateKeyPair());
  const { privateKey, publicKey } = readKeyPair(pair);

  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = window.notBefore;
  cert.validity.notAfter = window.notAfter;
  const subject = subjectAttrs(commonName);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { certPem: signToPem(cert, privateKey), keyPem: pair.privateKeyPem };
}
