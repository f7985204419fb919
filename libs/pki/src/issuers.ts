// The certificates an edge-tunnel deployment needs, with the names the rest of the project expects.
import { issueCertificate } from './issue.js';
import type { IssuedCert } from './issue.js';
import type { KeyPairPem } from './keys.js';
import type { CaBundle } from './x509.js';

/** Options every convenience issuer accepts. */
export interface LeafOptions {
  /** Default 365. */
  validityDays?: number;
  /** Reuse this key instead of generating one. */
  key?: KeyPairPem;
}

export interface ServerCertOptions extends LeafOptions {
  dnsNames?: string[];
  ips?: string[];
  /** Default `edge-tunnel-server`. */
  commonName?: string;
}

export const SERVER_COMMON_NAME = 'edge-tunnel-server';
export const KUBELET_CLIENT_COMMON_NAME = 'edge-tunnel-server-kubelet-client';
export const CALLER_COMMON_NAME = 'kube-apiserver-kubelet-client';

/** Agent certificate: CN = node name, O = system:nodes, SANs = DNS node name + `ips`. */
export function issueAgentCert(ca: CaBundle, nodeName: string, ips: string[], opts: LeafOptions = {}): Promise<IssuedCert> {
  return issueCertificate(ca, { ...opts, profile: 'agent', commonName: nodeName, ips });
}

/** Server certificate for the agent and proxy listeners (serverAuth; needs at least one SAN). */
export function issueServerCert(ca: CaBundle, opts: ServerCertOptions): Promise<IssuedCert> {
  const { commonName = SERVER_COMMON_NAME, ...rest } = opts;
  return issueCertificate(ca, { ...rest, profile: 'server', commonName });
}

/** The certificate the server presents to kubelets: clientAuth, CN edge-tunnel-server-kubelet-client. */
export function issueKubeletClientCert(ca: CaBundle, opts: LeafOptions = {}): Promise<IssuedCert> {
  return issueCertificate(ca, { ...opts, profile: 'client', commonName: KUBELET_CLIENT_COMMON_NAME });
}

/** A caller certificate for the proxy listener (what kube-apiserver presents to kubelets). */
export function issueCallerCert(ca: CaBundle, commonName = CALLER_COMMON_NAME, opts: LeafOptions = {}): Promise<IssuedCert> {
  return issueCertificate(ca, { ...opts, profile: 'client', commonName });
}
