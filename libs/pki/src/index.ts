export { PkiError, PkiErrorCode } from './errors.js';
export { generateKeyPair } from './keys.js';
export type { KeyPairPem } from './keys.js';
export { createCa } from './ca.js';
export type { CreateCaOptions } from './ca.js';
export type { CaBundle, ValidityOptions } from './x509.js';
export { CertProfile, NODES_ORGANIZATION, checkIssueOptions, issueCertificate } from './issue.js';
export type { IssueOptions, IssuedCert } from './issue.js';
export {
  CALLER_COMMON_NAME,
  KUBELET_CLIENT_COMMON_NAME,
  SERVER_COMMON_NAME,
  issueAgentCert,
  issueCallerCert,
  issueKubeletClientCert,
  issueServerCert,
} from './issuers.js';
export type { LeafOptions, ServerCertOptions } from './issuers.js';
export { MAX_CSR_RSA_BITS, MIN_CSR_RSA_BITS, createCsr, signCsr } from './csr.js';
export type { SignCsrOptions, SignedCert } from './csr.js';
export { certIdentity } from './identity.js';
export type { CertIdentity } from './identity.js';
export { readPemFiles, writePemFiles } from './files.js';
export type { PemPair, PemPaths } from './files.js';
