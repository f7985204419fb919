// The local lab: certificates, a server process, one agent process per emulated edge node, and on
// each node an emulated kubelet (HTTPS 10250, HTTP 10255) plus an exporter opened by dnat-ports-pair.
// Everything listens on loopback; the edge is reached only through the tunnel.
import { startExporter, startKubelet, type ExporterHandle, type KubeletHandle } from '@edge-tunnel/kubelet-emulator';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeLabCerts, type LabCerts } from './certs.js';
import { labCommands, type LabCommand } from './commands.js';
import { DEFAULT_NODES, DEFAULT_PORTS, type LabNode, type LabOptions, type LabPorts } from './options.js';
import { startProcess, type LabProcess } from './processes.js';
import { httpGet, waitFor } from './wait.js';

export interface LabHandle {
  dir: string;
  nodes: readonly LabNode[];
  ports: LabPorts;
  serverHost: string;
  certs: LabCerts;
  configPath: string;
  commands: LabCommand[];
  server: LabProcess;
  agents: Map<string, LabProcess>;
  kubelets: Map<string, KubeletHandle>;
  /** (re)starts the agent of one node */
  startAgent(node: LabNode): LabProcess;
  /** resolves once /debug/tunnels lists every given node */
  waitForTunnels(names: readonly string[], timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Fails fast, naming the process, when it exits while we wait for it. */
function unlessExited<T>(proc: LabProcess, wait: Promise<T>): Promise<T> {
  const exited = proc.exited.then((code) => {
    throw new Error(`lab: ${proc.name} exited with code ${code} (its log lines are above)`);
  });
  return Promise.race([wait, exited]);
}

const appScript = (pkg: string): string => join(dirname(fileURLToPath(import.meta.resolve(pkg))), 'main.js');

export async function startLab(options: LabOptions = {}): Promise<LabHandle> {
  const nodes = options.nodes ?? DEFAULT_NODES;
  const serverHost = options.serverHost ?? '127.0.0.1';
  const ports: LabPorts = { ...DEFAULT_PORTS, ...options.ports };
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'edge-tunnel-lab-')));
  const log = options.log ?? ((line: string) => console.log(line));
  const pretty = options.pretty ?? true;
  const certs = await writeLabCerts(join(dir, 'pki'), nodes, serverHost);
  await options.onCerts?.(certs.dir);
  const configPath = join(dir, 'edge-tunnel-server-cfg.yaml');
  await writeFile(
    configPath,
    `# same keys as the ConfigMap kube-system/edge-tunnel-server-cfg; edits apply live\ndnat-ports-pair: '${ports.exporter}=10264'\n`,
  );

  const kubelets = new Map<string, KubeletHandle>();
  const exporters: ExporterHandle[] = [];
  for (const node of nodes) {
    const tls = { cert: certs.kubelet[node.name]!.certPem, key: certs.kubelet[node.name]!.keyPem, ca: certs.caPem };
    kubelets.set(node.name, await startKubelet({ nodeName: node.name, host: node.ip, tls }));
    exporters.push(await startExporter({ host: node.ip, port: ports.exporter }));
  }

  const addr = (port: number): string => `${serverHost}:${port}`;
  const server = startProcess(
    'server',
    appScript('@edge-tunnel/server'),
    [
      '--agent-addr',
      addr(ports.agent),
      '--https-addr',
      addr(ports.https),
      '--http-addr',
      addr(ports.http),
      '--meta-addr',
      addr(ports.meta),
      '--connect-addr',
      addr(ports.connect),
      '--cert',
      certs.path('server', 'crt'),
      '--key',
      certs.path('server', 'key'),
      '--agent-ca',
      certs.path('ca', 'crt'),
      '--caller-ca',
      certs.path('ca', 'crt'),
      '--kubelet-client-cert',
      certs.path('kubelet-client', 'crt'),
      '--kubelet-client-key',
      certs.path('kubelet-client', 'key'),
      '--kubelet-ca',
      certs.path('ca', 'crt'),
      '--verify-kubelet',
      '--config',
      configPath,
      ...(options.serverArgs ?? []),
    ],
    log,
    pretty,
  );
  const metaUrl = `http://${addr(ports.meta)}`;
  const agents = new Map<string, LabProcess>();
  const startAgent = (node: LabNode): LabProcess => {
    const agent = startProcess(
      node.name,
      appScript('@edge-tunnel/agent'),
      [
        '--server',
        options.agentServerAddr ?? addr(ports.agent),
        '--node-name',
        node.name,
        '--node-ip',
        node.ip,
        '--cert',
        certs.path(`agent-${node.name}`, 'crt'),
        '--key',
        certs.path(`agent-${node.name}`, 'key'),
        '--ca',
        certs.path('ca', 'crt'),
        '--meta-addr',
        `${node.ip}:10266`,
        ...(options.agentAllowPorts ? ['--allow-ports', options.agentAllowPorts.join(',')] : []),
        ...(options.agentArgs ?? []),
        ...(node.agentArgs ?? []),
      ],
      log,
      pretty,
    );
    agents.set(node.name, agent);
    return agent;
  };
  const waitForTunnels = (names: readonly string[], timeoutMs = 15_000): Promise<void> =>
    waitFor(
      `tunnels of ${names.join(', ')}`,
      async () => {
        const res = await httpGet(`${metaUrl}/debug/tunnels?node=${encodeURIComponent(names.join(','))}`);
        if (res?.status !== 200) return false;
        const { nodes: up } = JSON.parse(res.body) as { nodes: Array<{ nodeName: string; connected: boolean }> };
        return names.every((n) => up.some((u) => u.nodeName === n && u.connected));
      },
      timeoutMs,
    );

  const close = async (): Promise<void> => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await server.stop();
    await Promise.all([...kubelets.values()].map((k) => k.close()));
    await Promise.all(exporters.map((e) => e.close()));
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    await unlessExited(
      server,
      waitFor('the server to be ready', async () => (await httpGet(`${metaUrl}/readyz`))?.status === 200, 15_000),
    );
    for (const node of nodes) startAgent(node);
    await unlessExited(server, waitForTunnels(nodes.map((n) => n.name)));
  } catch (err) {
    await close();
    throw err;
  }
  const commands = labCommands(nodes, serverHost, ports, certs);
  return { dir, nodes, ports, serverHost, certs, configPath, commands, server, agents, kubelets, startAgent, waitForTunnels, close };
}
