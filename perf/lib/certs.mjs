// Throwaway certificates for one run (@edge-tunnel/pki): a CA, a server certificate for 127.0.0.1,
// the kubelet-client pair, the caller pair kube-apiserver presents on :10263, a serving certificate
// for the HTTPS sink on each node IP (the kubelet's) and one agent certificate per node, as PEM files in `dir`.
import { createCa, generateKeyPair, issueAgentCert, issueCallerCert, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export async function makeCerts(dir, nodes) {
  const ca = await createCa({ commonName: 'edge-tunnel-perf-ca' });
  await writePemFiles(dir, 'ca', { certPem: ca.certPem });
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  await writePemFiles(dir, 'server', server);
  await writePemFiles(dir, 'kubelet-client', await issueKubeletClientCert(ca));
  await writePemFiles(dir, 'caller', await issueCallerCert(ca));
  await writePemFiles(dir, 'kubelet-serving', await issueServerCert(ca, { dnsNames: ['kubelet'], ips: nodes.map((n) => n.ip) }));
  for (const node of nodes) await writePemFiles(dir, `agent-${node.name}`, await issueAgentCert(ca, node.name, [node.ip]));
  const path = (name, ext) => join(dir, `${name}.${ext}`);
  return { dir, ca, caPem: ca.certPem, server, path, pem: (name, ext) => readFileSync(path(name, ext), 'utf8') };
}

/** Many agent identities sharing one key pair (signing only; ~0.1 s each with node-forge). */
export async function agentIdentities(ca, names, onProgress, ipOf = () => '127.0.0.1') {
  const key = await generateKeyPair();
  const out = [];
  for (const [i, name] of names.entries()) {
    out.push(await issueAgentCert(ca, name, [ipOf(i)], { key }));
    onProgress?.(i + 1);
  }
  return out;
}
