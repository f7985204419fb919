// The kubectl testbed in netns mode (root): startTestbed()'s namespaces, server, agents, kubelets and
// exporter, plus the fake API server as a process in the cloud namespace. kubectl runs in the cloud
// namespace too; the API server dials `edgeIP:10250`, which only the iptables DNAT to the server's
// :10263 makes reachable — the path kube-apiserver takes in a cluster.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NODE_EXPORTER } from '../netns/apps.js';
import { execIn } from '../netns/exec.js';
import type { TestbedProcess } from '../netns/processes.js';
import { startTestbed } from '../netns/testbed.js';
import { startApiServerProcess } from './apiserver-process.js';
import { edgeKubelets } from './edge-kubelets.js';
import { Kubectl } from './kubectl.js';
import { startPodHttp } from './pod-http.js';
import { KUBECTL_MODES, unknownNode, type KubectlTestbed, type KubectlTestbedOptions } from './handle.js';

/** prometheus-node-exporter on the first edge, opened with dnat-ports-pair through the 10264 channel. */
const EXPORTER_PORT = 9100;

export async function startNetnsKubectl(options: KubectlTestbedOptions, modeReason: string): Promise<KubectlTestbed> {
  // The exporter is optional here: `npm start` must run where the Debian package is missing.
  const exporter = (await execIn(undefined, 'sh', ['-c', `command -v ${NODE_EXPORTER}`])).code === 0 ? EXPORTER_PORT : undefined;
  const tb = await startTestbed({
    mode: 'netns',
    edges: 2,
    exporterPort: EXPORTER_PORT,
    exporterOn: exporter ? [0] : [],
    portConfig: exporter ? { 'dnat-ports-pair': `${exporter}=10264` } : {},
    log: options.log,
    serverArgs: options.serverArgs ?? [],
    agentArgs: options.agentArgs ?? [],
    ...(options.egressProxy ? { egressProxy: options.egressProxy } : {}),
    ...(options.weakLink ? { weakLink: options.weakLink } : {}),
    ...(options.agentCommand ? { agentCommand: options.agentCommand } : {}),
  });
  try {
    const kubelets = edgeKubelets(tb);
    const dir = join(tb.dir, 'kubectl');
    await mkdir(dir);
    const nodes = tb.edges.map((e) => ({ name: e.name, ip: e.ip }));
    const api = await startApiServerProcess(tb, dir, nodes);
    const agents = new Map<string, TestbedProcess>(tb.agents);
    const edge = (name: string) => tb.edges.find((e) => e.name === name) ?? unknownNode(name);
    return {
      mode: KUBECTL_MODES.netns,
      modeReason,
      nodes,
      kubectl: new Kubectl(api.kubeconfig, dir, tb.cloudNs),
      dir,
      exporterPort: exporter,
      requests: api.requests,
      appendLog: kubelets.appendLog,
      activeFollowers: kubelets.activeFollowers,
      killAgent: async (name) => {
        const agent = agents.get(name) ?? unknownNode(name);
        agent.child.kill('SIGKILL');
        await agent.exited;
      },
      startAgent: async (name) => {
        agents.set(name, tb.spawnAgent(name));
        await tb.waitForTunnels([name]);
      },
      cloudExec: (cmd, args, timeoutMs) => tb.exec(tb.cloudNs, cmd, args, timeoutMs),
      podHttpServer: (name) => startPodHttp((n, cmd, args) => tb.spawn(edge(name).ns, n, cmd, args)),
      logs: () => tb.logs(),
      netns: tb,
      close: () => tb.close(),
    };
  } catch (err) {
    await tb.close();
    throw err;
  }
}
