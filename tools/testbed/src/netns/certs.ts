// One CA for everything, written as PEM files (as tools/lab does): server (SANs: LB, server address,
// every edge IP, 127.0.0.1), agents, the kubelet-client identity, a caller, and kubelet serving certs.
import { createCa, generateKeyPair, issueAgentCert, issueCallerCert, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { join } from 'node:path';
import type { TopologyPlan } from './options.js';

export interface TestbedCerts {
  dir: string;
  /** `<dir>/<name>.<ext>`: names `ca`, `server`, `caller`, `kubelet-client`, `agent-<node>`, `kubelet-<node>` */
  path(name: string, ext: 'crt' | 'key'): string;
}

export async function writeTestbedCerts(dir: string, plan: TopologyPlan): Promise<TestbedCerts> {
  // Two RSA keygens in all: the CA's, and one key shared by every leaf. RSA keygen is the costly part
  // of a start on a busy machine; sharing a leaf key is fine for a test bed, never for a deployment.
  const [ca, key] = await Promise.all([createCa({ commonName: 'edge-tunnel-testbed-ca' }), generateKeyPair()]);
  const edgeIps = plan.edges.map((e) => e.ip);
  await Promise.all([
    writePemFiles(dir, 'ca', { certPem: ca.certPem }),
    issueServerCert(ca, {
      dnsNames: ['localhost', 'edge-tunnel-server', ...plan.edges.map((e) => e.name)],
      ips: [...new Set(['127.0.0.1', plan.lbAddress, plan.serverAddress, ...edgeIps])],
      key,
    }).then((pair) => writePemFiles(dir, 'server', pair)),
    issueKubeletClientCert(ca, { key }).then((pair) => writePemFiles(dir, 'kubelet-client', pair)),
    issueCallerCert(ca, undefined, { key }).then((pair) => writePemFiles(dir, 'caller', pair)),
    ...plan.edges.flatMap((edge) => [
      issueAgentCert(ca, edge.name, [edge.ip], { key }).then((pair) => writePemFiles(dir, `agent-${edge.name}`, pair)),
      issueServerCert(ca, { commonName: edge.name, dnsNames: [edge.name], ips: [edge.ip], key }).then((pair) =>
        writePemFiles(dir, `kubelet-${edge.name}`, pair),
      ),
    ]),
  ]);
  return { dir, path: (name, ext) => join(dir, `${name}.${ext}`) };
}
