// Throwaway certificates for one run (@edge-tunnel/pki): a CA, a server certificate for 127.0.0.1,
// the kubelet-client pair and one agent certificate per node, as PEM files in `dir`.
import { createCa, generateKeyPair, issueAgentCert, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { join } from 'node:path';

export async function makeCerts(dir, nodes) {
  const ca = await createCa({ commonName: 'edge-tunnel-perf-ca' });
  await writePemFiles(dir, 'ca', { certPem: ca.certPem });
  const server = await issueServerCert(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  await writePemFiles(dir, 'server', server);
  await writePemFiles(dir, 'kubelet-client', await issueKubeletClientCert(ca));
  for (const node of nodes) await writePemFiles(dir, `agent-${node.name}`, await issueAgentCert(ca, node.name, [node.ip]));
  return { dir, ca, caPem: ca.certPem, server, path: (name, ext) => join(dir, `${name}.${ext}`) };
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
