// RSA key pairs as PEM strings. Generation uses Node's native keygen (OpenSSL, in the libuv thread
// pool): node-forge's pure-JS keygen takes seconds per key.
import { generateKeyPair as nodeGenerateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { PkiError, PkiErrorCode, wrapPki } from './errors.js';

/** An RSA key pair: `privateKeyPem` is PKCS#8 (`PRIVATE KEY`), `publicKeyPem` is SPKI (`PUBLIC KEY`). */
export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Smallest and largest modulus accepted by generateKeyPair. */
const MIN_BITS = 2048;
const MAX_BITS = 8192;
const RSA_F4 = 0x10001;

const nodeKeygen = promisify(nodeGenerateKeyPair);

/** Generates an RSA key pair with Node's native keygen (2048 bits: ~0.1–0.6 s). */
export async function generateKeyPair(bits = 2048): Promise<KeyPairPem> {
  if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS || bits % 8 !== 0) {
    throw new PkiError(PkiErrorCode.INVALID_OPTIONS, `RSA key size must be a multiple of 8 between ${MIN_BITS} and ${MAX_BITS} bits, got ${bits}`);
  }
  try {
    const { privateKey, publicKey } = await nodeKeygen('rsa', {
      modulusLength: bits,
      publicExponent: RSA_F4,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    return { privateKeyPem: privateKey, publicKeyPem: publicKey };
  } /* c8 ignore next 3 */ catch (err) {
    throw new PkiError(PkiErrorCode.KEYGEN_FAILED, 'native RSA key generation failed', { cause: err });
  }
}

/** Parses an RSA private key PEM (PKCS#1 or unencrypted PKCS#8) into a forge key. */
export function forgePrivateKey(pem: string): forge.pki.rsa.PrivateKey {
  return wrapPki(PkiErrorCode.INVALID_KEY, 'private key is not an unencrypted RSA private key PEM', () => forge.pki.privateKeyFromPem(pem));
}

/** The public half of a forge private key. */
export function publicOf(key: forge.pki.rsa.PrivateKey): forge.pki.rsa.PublicKey {
  return forge.pki.setRsaPublicKey(key.n, key.e);
}

/** True when both keys have the same modulus and exponent. */
export function samePublicKey(a: forge.pki.rsa.PublicKey, b: forge.pki.rsa.PublicKey): boolean {
  return a.n.equals(b.n) && a.e.equals(b.e);
}

/**
 * Reads a caller-supplied key pair: the private key is authoritative; a public key PEM, when
 * present, must be its public half.
 */
export function readKeyPair(pair: KeyPairPem): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
} {
  const privateKey = forgePrivateKey(pair.privateKeyPem);
  const publicKey = publicOf(privateKey);
  if (pair.publicKeyPem) {
    const given = wrapPki(PkiErrorCode.INVALID_KEY, 'public key is not an RSA public key PEM', () => forge.pki.publicKeyFromPem(pair.publicKeyPem));
    if (!samePublicKey(given, publicKey)) {
      throw new PkiError(PkiErrorCode.INVALID_KEY, 'public key PEM does not belong to the private key PEM');
    }
  }
  return { privateKey, publicKey };
}
