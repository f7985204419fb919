// The kubectl testbed in loopback mode: the lab (server and agents as processes, emulated kubelets
// in-process on loopback node IPs) and the fake API server in-process, whose kubelet proxy reaches
// `nodeIP:10250` only through the server's CONNECT frontend, with the lab's kubelet-client certificate.
import { startFakeApiServer, type FakeApiServer } from '@edge-tunnel/fake-apiserver';
import { freePort, startLab, type LabNode } from '@edge-tunnel/lab';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIn } from '../netns/exec.js';
import { startIn } from '../netns/processes.js';
import { connectDial } from './connect-dial.js';
import { Kubectl } from './kubectl.js';
import { startPodHttp } from './pod-http.js';
import { seedCluster } from './seed.js';
import { KUBECTL_MODES, unknownNode, type KubectlTestbed, type KubectlTestbedOptions } from './handle.js';

/** Log lines kept for logs() and quoted in a startup error. */
const KEPT_LINES = 2_000;

export async function startLoopbackKubectl(options: KubectlTestbedOptions, modeReason: string): Promise<KubectlTestbed> {
  const subnet = options.subnet ?? 147;
  const nodes: LabNode[] = options.lab?.nodes ?? [
    { name: 'edge-a', ip: `127.0.${subnet}.1` },
    { name: 'edge-b', ip: `127.0.${subnet}.2` },
  ];
  const ports = options.lab?.ports ?? {
    agent: await freePort(),
    https: await freePort(),
    http: await freePort(),
    meta: await freePort(),
    connect: await freePort(),
    exporter: await freePort(),
  };
  const kept: string[] = [];
  const log = (line: string): void => {
    kept.push(line);
    if (kept.length > KEPT_LINES) kept.shift();
    options.log?.(line);
  };
  const lab = await startLab({ nodes, ports, pretty: options.lab?.pretty ?? true, log }).catch((err: Error) => {
    throw new Error(`${err.message}\n${kept.slice(-20).join('\n')}`, { cause: err });
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
    const kubelet = (name: string) => lab.kubelets.get(name) ?? unknownNode(name);
    const nodeOf = (name: string): LabNode => nodes.find((n) => n.name === name) ?? unknownNode(name);
    return {
      mode: KUBECTL_MODES.loopback,
      modeReason,
      nodes,
      kubectl: new Kubectl(kubeconfig, dir),
      dir,
      exporterPort: lab.ports.exporter,
      requests: () => [...started.requests],
      appendLog: async (name, container, line) => kubelet(name).appendLog('default', 'demo', container, line),
      activeFollowers: async (name) => kubelet(name).activeFollowers(),
      killAgent: async (name) => {
        const agent = lab.agents.get(name) ?? unknownNode(name);
        agent.child.kill('SIGKILL');
        await agent.exited;
      },
      startAgent: async (name) => {
        lab.startAgent(nodeOf(name));
        await lab.waitForTunnels([name]);
      },
      cloudExec: (cmd, args, timeoutMs) => execIn(undefined, cmd, args, timeoutMs),
      // the kubelets share this network: a process on 127.0.0.1 here is on the node's 127.0.0.1
      podHttpServer: () => startPodHttp((name, cmd, args) => startIn(undefined, name, cmd, args, log)),
      logs: () => [...kept],
      lab,
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
