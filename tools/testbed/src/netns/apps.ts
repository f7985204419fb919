// The real programs the testbed runs: edge-tunnel-server in the cloud, and on every edge the agent,
// the kubelet emulator (CLI) and optionally prometheus-node-exporter. Argument lists only; no waiting.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestbedCerts } from './certs.js';
import { SERVER_PORTS, type EdgePlan, type TopologyPlan } from './options.js';

/** `dist/main.js` next to a workspace package's entry point. */
export const appScript = (pkg: string): string => join(dirname(fileURLToPath(import.meta.resolve(pkg))), 'main.js');

/** Where the server's meta listener is, as seen from the cloud. */
export function metaAddress(plan: TopologyPlan): string {
  return `${plan.mode === 'netns' ? '127.0.0.1' : plan.serverAddress}:${SERVER_PORTS.meta}`;
}

export function serverArgs(plan: TopologyPlan, certs: TestbedCerts, configPath: string): string[] {
  const at = (port: number): string => `${plan.serverAddress}:${port}`;
  const ca = certs.path('ca', 'crt');
  return [
    appScript('@edge-tunnel/server'),
    '--agent-addr',
    `${plan.lbAddress}:${SERVER_PORTS.agent}`,
    '--https-addr',
    at(SERVER_PORTS.https),
    '--http-addr',
    at(SERVER_PORTS.http),
    '--connect-addr',
    at(SERVER_PORTS.connect),
    '--meta-addr',
    metaAddress(plan),
    '--cert',
    certs.path('server', 'crt'),
    '--key',
    certs.path('server', 'key'),
    '--agent-ca',
    ca,
    '--caller-ca',
    ca,
    '--kubelet-client-cert',
    certs.path('kubelet-client', 'crt'),
    '--kubelet-client-key',
    certs.path('kubelet-client', 'key'),
    '--kubelet-ca',
    ca,
    '--verify-kubelet',
    '--config',
    configPath,
    '--config-poll-ms',
    '500',
    '--drain-timeout-ms',
    '1000',
    // netns: the server (root in the cloud namespace) DNATs edgeIP:port to its listeners at serverAddress
    ...(plan.mode === 'netns' ? ['--capture', 'iptables', ...plan.edges.flatMap((e) => ['--edge-node-ip', e.ip])] : []),
  ];
}

export function agentArgs(plan: TopologyPlan, edge: EdgePlan, certs: TestbedCerts, allowPorts: readonly number[]): string[] {
  const args = [
    appScript('@edge-tunnel/agent'),
    '--server',
    `${plan.lbAddress}:${SERVER_PORTS.agent}`,
    '--node-name',
    edge.name,
    '--node-ip',
    edge.ip,
    '--cert',
    certs.path(`agent-${edge.name}`, 'crt'),
    '--key',
    certs.path(`agent-${edge.name}`, 'key'),
    '--ca',
    certs.path('ca', 'crt'),
    '--meta-addr',
    `${plan.mode === 'netns' ? '127.0.0.1' : edge.ip}:10266`,
    '--backoff-base-ms',
    '200',
    '--backoff-max-ms',
    '1000',
    '--reconnect-spread-ms',
    '1000',
    '--drain-timeout-ms',
    '1000',
  ];
  return allowPorts.length > 0 ? [...args, '--allow-ports', allowPorts.join(',')] : args;
}

export function kubeletArgs(edge: EdgePlan, certs: TestbedCerts): string[] {
  return [
    appScript('@edge-tunnel/kubelet-emulator'),
    '--node-name',
    edge.name,
    '--host',
    edge.ip,
    '--cert',
    certs.path(`kubelet-${edge.name}`, 'crt'),
    '--key',
    certs.path(`kubelet-${edge.name}`, 'key'),
    '--ca',
    certs.path('ca', 'crt'),
  ];
}

export const NODE_EXPORTER = 'prometheus-node-exporter';

/** A few cheap collectors: enough for `node_` series, little CPU on a shared machine. */
export function exporterArgs(edge: EdgePlan, port: number): string[] {
  return [`--web.listen-address=${edge.ip}:${port}`, '--collector.disable-defaults', '--collector.loadavg', '--collector.meminfo', '--collector.time'];
}
