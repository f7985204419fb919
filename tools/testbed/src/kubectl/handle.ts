// The kubectl testbed's handle, the same in both modes (loopback-mode.ts, netns-mode.ts).
import type { RecordedRequest } from '@edge-tunnel/fake-apiserver';
import type { LabHandle, LabPorts } from '@edge-tunnel/lab';
import type { ExecResult } from '../netns/exec.js';
import type { EgressProxyOptions, TestbedMode, TestbedOptions, WeakLinkOptions } from '../netns/options.js';
import type { Testbed } from '../netns/testbed.js';
import type { Kubectl } from './kubectl.js';
import type { SeedNode } from './seed.js';

/** How the API server reaches kubelets in each mode (tests and `npm start` print it). */
export const KUBECTL_MODES = { loopback: 'loopback/CONNECT', netns: 'netns/DNAT' } as const;
export type KubectlMode = (typeof KUBECTL_MODES)[TestbedMode];

export interface KubectlTestbedOptions {
  /** default: chooseMode() — EDGE_TUNNEL_TESTBED_MODE, else netns when root */
  mode?: TestbedMode;
  /** loopback: third octet of the node IPs 127.0.<subnet>.1 and .2. Default 147. */
  subnet?: number;
  /** netns: extra flags for the server's command line (e.g. `--resume-grace-ms`, keepalive timings). Default none. */
  serverArgs?: string[];
  /** netns: extra flags for every agent's command line, restarts by startAgent() included. Default none. */
  agentArgs?: string[];
  /** netns: Debian's squid between the edges and the cloud (the netns testbed's egressProxy). Default none. */
  egressProxy?: EgressProxyOptions;
  /** netns: a delay line (delay, loss, jitter, rate) on the edges' uplinks (the netns testbed's weakLink). Default none. */
  weakLink?: WeakLinkOptions;
  /** netns: agents from the testbed's flags or the DaemonSet manifest's args (the netns testbed's agentCommand). Default testbed. */
  agentCommand?: TestbedOptions['agentCommand'];
  /** Receives the processes' log lines. Default: dropped. */
  log?: (line: string) => void;
  /** loopback: `npm start` runs on the lab's defaults (fixed ports, edge-1/edge-2, pretty logs); tests use free ports. */
  lab?: { nodes?: SeedNode[]; ports?: LabPorts; pretty?: boolean };
}

/** A process serving HTTP on 127.0.0.1 of an edge node (what `kubectl port-forward` reaches). */
export interface PodHttpServer {
  port: number;
  close(): Promise<void>;
}

export interface KubectlTestbed {
  mode: KubectlMode;
  /** why this mode ran (e.g. "not root: …") */
  modeReason: string;
  /** the edge nodes as the API server knows them (name, InternalIP); the demo pod runs on the first */
  nodes: readonly SeedNode[];
  kubectl: Kubectl;
  /** kubeconfig, kubectl's HOME and cache; removed by close() */
  dir: string;
  /** the exporter port opened with dnat-ports-pair on the first node (netns: undefined without prometheus-node-exporter) */
  exporterPort: number | undefined;
  /** requests the API server received so far, in order */
  requests(): RecordedRequest[];
  /** appends one line to a container log of the demo pod at the kubelet of `nodeName` */
  appendLog(nodeName: string, container: string, line: string): Promise<void>;
  /** log-follow responses open now at the kubelet of `nodeName` */
  activeFollowers(nodeName: string): Promise<number>;
  /** SIGKILLs the agent of `nodeName`; resolves once it has exited */
  killAgent(nodeName: string): Promise<void>;
  /** starts the agent of `nodeName` again; resolves once its tunnel is up */
  startAgent(nodeName: string): Promise<void>;
  /** runs a command where kubectl runs (the cloud); never rejects */
  cloudExec(cmd: string, args: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  /** an HTTP server on the node's 127.0.0.1 answering `hello from the pod: METHOD URL` */
  podHttpServer(nodeName: string): Promise<PodHttpServer>;
  /** every process log line so far (the server's audit lines among them) */
  logs(): string[];
  /** loopback mode: the lab underneath */
  lab?: LabHandle;
  /** netns mode: the network-namespace testbed underneath */
  netns?: Testbed;
  close(): Promise<void>;
}

export function unknownNode(name: string): never {
  throw new Error(`kubectl testbed: no edge node named ${name}`);
}
