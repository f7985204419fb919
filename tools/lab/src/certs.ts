// The lab's certificates: one CA for everything (agents, callers, kubelets), written as PEM files.
import { createCa, issueAgentCert, issueCallerCert, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { join } from 'node:path';
import type { LabNode } from './options.js';

export interface LabCerts {
  dir: string;
  /** PEM texts for in-process kubelets */
  caPem: string;
  kubelet: Record<string, { certPem: string; keyPem: string }>;
  path(name: string, ext: 'crt' | 'key'): string;
}

export async function writeLabCerts(dir: string, nodes: readonly LabNode[], serverHost: string): Promise<LabCerts> {
  const ca = await createCa({ commonName: 'edge-tunnel-lab-ca' });
  await writePemFiles(dir, 'ca', { certPem: ca.certPem });
  const nodeIps = nodes.map((n) => n.ip);
  // Callers dial the edge IPs (as kube-apiserver dials kubelets); DNAT lands them on the server.
  await writePemFiles(
    dir,
    'server',
    await issueServerCert(ca, {
      dnsNames: ['localhost', 'edge-tunnel-server', ...nodes.map((n) => n.name)],
      ips: [...new Set(['127.0.0.1', serverHost, ...nodeIps])],
    }),
  );
  await writePemFiles(dir, 'kubelet-client', await issueKubeletClientCert(ca));
  await writePemFiles(dir, 'caller', await issueCallerCert(ca));
  const kubelet: LabCerts['kubelet'] = {};
  for (const node of nodes) {
    await writePemFiles(dir, `agent-${node.name}`, await issueAgentCert(ca, node.name, [node.ip]));
    const serving = await issueServerCert(ca, { commonName: node.name, dnsNames: [node.name], ips: [node.ip] });
    kubelet[node.name] = { certPem: serving.certPem, keyPem: serving.keyPem };
  }
  return { dir, caPem: ca.certPem, kubelet, path: (name, ext) => join(dir, `${name}.${ext}`) };
}
