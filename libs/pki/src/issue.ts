// Leaf certificates signed by a CA, in three profiles. Options are validated and the CA is loaded
// before any key is generated, so bad input fails fast.
import forge from 'node-forge';
import { PkiError, PkiErrorCode } from './errors.js';
import { generateKeyPair, readKeyPair } from './keys.js';
import type { KeyPairPem } from './keys.js';
import { checkDnValue, checkDnsName, checkNodeName, normalizeIp, unique } from './names.js';
import { loadCa, randomSerialHex, signToPem, subjectAttrs, validityWindow } from './x509.js';
import type { CaBundle, LoadedCa, ValidityOptions } from './x509.js';

/** Certificate profiles: which extended key usages a leaf gets. */
export const CertProfile = {
  /** TLS server (the tunnel server's listeners): serverAuth; at least one SAN required. */
  server: 'server',
  /** TLS client (kubelet-client, kube-apiserver caller): clientAuth. */
  client: 'client',
  /** Edge agent: clientAuth only (it serves no TLS; it can never pass as a server); CN = node name, O = system:nodes, DNS SAN = node name. */
  agent: 'agent',
} as const;
export type CertProfile = (typeof CertProfile)[keyof typeof CertProfile];

const EXT_KEY_USAGE: Record<CertProfile, { serverAuth?: true; clientAuth?: true }> = {
  server: { serverAuth: true },
  client: { clientAuth: true },
  agent: { clientAuth: true },
};

/** Organization Kubernetes gives node identities; agents get it unless told otherwise. */
export const NODES_ORGANIZATION = 'system:nodes';
const DEFAULT_LEAF_DAYS = 365;

export interface IssueOptions extends ValidityOptions {
  profile: CertProfile;
  commonName: string;
  organization?: string[];
  dnsNames?: string[];
  ips?: string[];
  /** Default 365. */
  validityDays?: number;
  /** Reuse this key instead of generating one. */
  key?: KeyPairPem;
}

/** A leaf certificate, its private key, and the issuing CA certificate (all PEM). */
export interface IssuedCert {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/** Validated, normalized contents of a leaf certificate. */
export interface LeafPlan {
  profile: CertProfile;
  commonName: string;
  organization: string[];
  dnsNames: string[];
  ips: string[];
  notBefore: Date;
  notAfter: Date;
}

export function planLeaf(opts: IssueOptions): LeafPlan {
  if (!Object.hasOwn(EXT_KEY_USAGE, opts.profile)) {
    throw new PkiError(PkiErrorCode.INVALID_OPTIONS, `unknown certificate profile ${JSON.stringify(opts.profile)} (server, client or agent)`);
  }
  const agent = opts.profile === 'agent';
  const commonName = agent ? checkNodeName(opts.commonName) : checkDnValue('commonName', opts.commonName);
  const organization = (opts.organization ?? (agent ? [NODES_ORGANIZATION] : [])).map((o) => checkDnValue('organization', o));
  const dnsNames = unique([...(agent ? [commonName] : []), ...(opts.dnsNames ?? []).map(checkDnsName)]);
  const ips = unique((opts.ips ?? []).map(normalizeIp));
  if (opts.profile === 'server' && dnsNames.length + ips.length === 0) {
    throw new PkiError(PkiErrorCode.INVALID_OPTIONS, 'a server certificate needs at least one DNS name or IP address (TLS clients match only SANs)');
  }
  return { profile: opts.profile, commonName, organization, dnsNames, ips, ...validityWindow(opts, DEFAULT_LEAF_DAYS) };
}

/** Throws the PkiError issueCertificate would throw for `opts`, without a CA or a key (cheap). */
export function checkIssueOptions(opts: IssueOptions): void {
  planLeaf(opts);
}

/** Signs a leaf for `publicKey` with the loaded CA. */
export function signLeaf(ca: LoadedCa, publicKey: forge.pki.rsa.PublicKey, plan: LeafPlan): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = plan.notBefore;
  cert.validity.notAfter = plan.notAfter;
  cert.setSubject(subjectAttrs(plan.commonName, plan.organization));
  cert.setIssuer(ca.cert.subject.attributes);
  const altNames = [...plan.dnsNames.map((value) => ({ type: 2, value })), ...plan.ips.map((ip) => ({ type: 7, ip }))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', ...EXT_KEY_USAGE[plan.profile] },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.keyIdentifier },
  ]);
  return signToPem(cert, ca.privateKey);
}

/** Issues a leaf certificate of the given profile, generating a key unless `opts.key` is given. */
export async function issueCertificate(ca: CaBundle, opts: IssueOptions): Promise<IssuedCert> {
  const plan = planLeaf(opts);
  const loaded = loadCa(ca);
  const pair = opts.key ?? (await generateKeyPair());
  const { publicKey } = readKeyPair(pair);
  return { certPem: signLeaf(loaded, publicKey, plan), keyPem: pair.privateKeyPem, caPem: ca.certPem };
}
