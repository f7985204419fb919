// Who a certificate says it is. Works for any key type (RSA, EC, Ed25519): names and SANs are read
// from the DER with forge's ASN.1 parser, dates and fingerprint from node:crypto's X509Certificate.
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { PkiError, PkiErrorCode, wrapPki } from './errors.js';
import { ipFromBytes } from './names.js';

export interface CertIdentity {
  commonName: string;
  organization: string[];
  dnsNames: string[];
  /** Canonical text form (IPv6 compressed, lower case). */
  ips: string[];
  notBefore: Date;
  notAfter: Date;
  issuerCommonName: string;
  /** SHA-256 of the DER, upper-case hex pairs joined by `:` (as X509Certificate prints it). */
  fingerprint256: string;
}

const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';
const OID_SAN = '2.5.29.17';
/** GeneralName tags inside subjectAltName. */
const GN_DNS = 2;
const GN_IP = 7;
/** ASN.1 string types that need decoding beyond latin1. */
const TAG_UTF8 = 12;
const TAG_BMP = 30;

type Asn1 = forge.asn1.Asn1;

function children(node: Asn1 | undefined): Asn1[] {
  return Array.isArray(node?.value) ? node.value : [];
}

function bytes(node: Asn1 | undefined): string {
  return typeof node?.value === 'string' ? node.value : '';
}

function decodeString(node: Asn1): string {
  const raw = bytes(node);
  if (node.type === TAG_UTF8) return Buffer.from(raw, 'binary').toString('utf8');
  if (node.type === TAG_BMP) return Buffer.from(raw, 'binary').swap16().toString('utf16le');
  return raw;
}

/** All values of one attribute type in a Name, in order. */
function nameValues(name: Asn1 | undefined, oid: string): string[] {
  const out: string[] = [];
  for (const rdn of children(name)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (type && value && forge.asn1.derToOid(bytes(type)) === oid) out.push(decodeString(value));
    }
  }
  return out;
}

function subjectAltNames(extensions: Asn1 | undefined): { dnsNames: string[]; ips: string[] } {
  const dnsNames: string[] = [];
  const ips: string[] = [];
  for (const ext of children(children(extensions)[0])) {
    const parts = children(ext);
    if (forge.asn1.derToOid(bytes(parts[0])) !== OID_SAN) continue;
    const san = forge.asn1.fromDer(bytes(parts.at(-1)));
    for (const gn of children(san)) {
      if (gn.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC) continue;
      const raw = Buffer.from(bytes(gn), 'binary');
      if (gn.type === GN_DNS) dnsNames.push(raw.toString('latin1'));
      else if (gn.type === GN_IP && (raw.length === 4 || raw.length === 16)) ips.push(ipFromBytes(raw));
    }
  }
  return { dnsNames, ips };
}

/** Reads identity fields from a PEM certificate (the first one, if the PEM holds a chain). */
export function certIdentity(pem: string): CertIdentity {
  const x509 = wrapPki(PkiErrorCode.INVALID_CERT, 'not a PEM X.509 certificate', () => new X509Certificate(pem));
  return wrapPki(PkiErrorCode.INVALID_CERT, 'certificate structure could not be read', () => {
    const tbs = children(forge.asn1.fromDer(x509.raw.toString('binary')))[0];
    const fields = children(tbs);
    const hasVersion = fields[0]?.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC;
    const at = (i: number): Asn1 | undefined => fields[i + (hasVersion ? 1 : 0)];
    const issuer = at(2);
    const subject = at(4);
    const extensions = fields.find((f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
    if (!subject || !issuer) throw new PkiError(PkiErrorCode.INVALID_CERT, 'certificate has no subject or issuer');
    return {
      commonName: nameValues(subject, OID_CN)[0] ?? '',
      organization: nameValues(subject, OID_O),
      ...subjectAltNames(extensions),
      notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo),
      issuerCommonName: nameValues(issuer, OID_CN)[0] ?? '',
      fingerprint256: x509.fingerprint256,
    };
  });
}
