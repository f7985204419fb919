// The kubectl testbed in loopback mode: a real edge-tunnel server and agents (the lab), emulated
// kubelets on loopback node IPs, and the fake API server whose kubelet proxy reaches `nodeIP:10250`
// only through the server's CONNECT frontend, with the lab's kubelet-client certificate.
import { startFakeApiServer, type FakeApiServer } from '@edge-tunnel/fake-apiserver';
import { startLab, type LabHandle, type LabNode, type LabPorts } from '@edge-tunnel/lab';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectDial } from './connect-dial.js';
import { Kubectl } from './kubectl.js';
import { seedCluster } from './seed.js';

/** How the API server reaches kubelets; only CONNECT exists in loopback mode. */
export const KUBECTL_MODE = 'loopback/CONNECT';

/** Lab log lines quoted in a startup error. */
const RECENT_LINES = 20;

export interface KubectlTestbedOptions {
  /** Third octet of the node IPs 127.0.<subnet>.1 and .2. Default 147. */
  subnet?: number;
  /** Receives the lab processes' log lines. Default: dropped. */
  log?: (line: string) => void;
  /** `npm start` runs on the lab's defaults (fixed ports, edge-1/edge-2, pretty logs); tests use free ports. */
  lab?: { nodes?: LabNode[]; ports?: LabPorts; pretty?: boolean };
}

export interface KubectlTestbed {
  mode: typeof KUBECTL_MODE;
  lab: LabHandle;
  api: FakeApiServer;
  nodes: readonly LabNode[];
  kubectl: Kubectl;
  dir: string;
  close(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Start lab + fake API server, seed nodes and pods, write a kubeconfig. */
export async function startKubectlTestbed(options: KubectlTestbedOptions = {}): Promise<KubectlTestbed> {
  const subnet = options.subnet ?? 147;
  const nodes: LabNode[] = options.lab?.nodes ?? [{ name: 'edge-a', ip: `127.0.${subnet}.1` }, { name: 'edge-b', ip: `127.0.${subnet}.2` }];
  const ports = options.lab?.ports ?? { agent: await freePort(), https: await freePort(), http: await freePort(), meta: await freePort(), connect: await freePort(), exporter: await freePort() };
  const recent: string[] = [];
  const log = (line: string): void => {
    recent.push(line);
    if (recent.length > RECENT_LINES) recent.shift();
    options.log?.(line);
  };
  const lab = await startLab({ nodes, ports, pretty: options.lab?.pretty ?? false, log }).catch((err: Error) => {
    throw new Error(`${err.message}\n${recent.join('\n')}`, { cause: err });
  });
  let api: FakeApiServer | undefined;
  try {
    const tls = {
      cert: await readFile(lab.certs.path('kubelet-client', 'crt'), 'utf8'),
      key: await readFile(lab.certs.path('kubelet-client', 'key'), 'utf8'),
      ca: lab.certs.caPem,
    };
    api = await startFakeApiServer({ kubelet: { dial: connectDial(lab.serverHost, lab.ports.connect), tls } });
    seedCluster(api.store, nodes);
    const dir = await mkdtemp(join(tmpdir(), 'edge-tunnel-kubectl-'));
    const kubeconfig = join(dir, 'kubeconfig');
    api.kubeconfig(kubeconfig);
    const started = api;
    return {
      mode: KUBECTL_MODE,
      lab,
      api,
      nodes,
      kubectl: new Kubectl(kubeconfig, dir),
      dir,
      async close() {
        await started.close();
        await lab.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await api?.close();
    await lab.close();
    throw err;
  }
}
