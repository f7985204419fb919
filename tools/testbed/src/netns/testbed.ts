// startTestbed(): namespaces (or loopback addresses), certificates, the port config file, the real
// server (in netns mode with its own iptables capture), agents, kubelet emulators and exporters as
// processes. close() undoes all of it, also after a failed start; a process-exit hook deletes the
// namespaces (and with them every rule) as a last resort.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareAgentLaunch, proxyUrl } from './agent-launch.js';
import { NODE_EXPORTER, exporterArgs, kubeletArgs, metaAddress, serverArgs } from './apps.js';
import { writeTestbedCerts, type TestbedCerts } from './certs.js';
import { deleteNamespacesSync, execIn, mustExec, type ExecResult } from './exec.js';
import { SERVER_PORTS, planTopology, type EdgePlan, type ProxyPlan, type TestbedMode, type TestbedOptions, type TopologyPlan } from './options.js';
import { writePortConfig } from './port-config-file.js';
import { startIn, unlessExited, waitFor, type TestbedProcess } from './processes.js';
import { serverMeta, type ServerCaptureStatus } from './server-meta.js';
import { Squid, squidMissing } from './squid.js';
import { delayLineMissing, startWeakLink, type WeakLink } from './delay-line.js';
import { createTopology, deleteTopology, netnsUnavailable, sweepStaleNamespaces } from './topology.js';

/** The egress proxy of a testbed started with `egressProxy`. */
export interface TestbedProxy extends ProxyPlan {
  /** squid in the proxy namespace: stop()/start() restart it, accessLog()/cacheLog() read its logs */
  squid: Squid;
  /** the proxy URL as agents are given it, without credentials */
  url: string;
}

export interface Testbed extends Omit<TopologyPlan, 'edges' | 'proxy'> {
  /** which mode ran, with the reason when it is not `netns` */
  modeReason: string;
  edges: readonly EdgePlan[];
  edgeNs: readonly string[];
  edgeIps: readonly string[];
  dir: string;
  /** the port config file (ConfigMap keys); the server and its capture follow it live */
  configPath: string;
  certs: TestbedCerts;
  server: TestbedProcess;
  agents: ReadonlyMap<string, TestbedProcess>;
  /** starts the agent of `nodeName` (again) as the first one started: same argv, environment and proxy */
  spawnAgent(nodeName: string): TestbedProcess;
  /** with `egressProxy`: the proxy namespace and its squid */
  proxy: TestbedProxy | undefined;
  /** with `weakLink`: the delay line on the edges' uplinks (its counters, stop/start) */
  weakLink: WeakLink | undefined;
  kubelets: ReadonlyMap<string, TestbedProcess>;
  exporters: ReadonlyMap<string, TestbedProcess>;
  /** the server's /debug/capture (netns mode: its iptables capture; loopback: `{ mode: 'none' }`) */
  captureStatus(): Promise<ServerCaptureStatus | undefined>;
  /** `http://host:port` of the server's meta listener (reachable from the cloud) */
  metaUrl: string;
  /** runs a command in a namespace ('' or undefined: the caller's; loopback mode ignores it) */
  exec(ns: string | undefined, cmd: string, args: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  /** starts a long-running process in a namespace; close() stops it */
  spawn(ns: string | undefined, name: string, cmd: string, args: readonly string[]): TestbedProcess;
  /** curl from the cloud as a cluster caller: via DNAT (netns) or the CONNECT frontend (loopback) */
  curl(args: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  /** the curl arguments curl() adds in this mode ([] in netns mode) */
  curlRoute: readonly string[];
  /** rewrites the port config file; resolves once the server shows it on /debug/config and (netns mode) its capture has applied it */
  setPortConfig(data: Record<string, string>): Promise<void>;
  /** resolves once /debug/tunnels lists every given node as connected */
  waitForTunnels(names?: readonly string[], timeoutMs?: number): Promise<void>;
  logs(): string[];
  /** netns mode: drops every packet between the load balancer address and edge `edgeIndex` (0-based), both ways, in the edge namespace */
  partition(edgeIndex: number): Promise<void>;
  /** removes the rules of partition() */
  heal(edgeIndex: number): Promise<void>;
  close(): Promise<void>;
}

/** The iptables rules of a silent partition in an edge namespace: `-I`/`-D` prefixes them. */
const partitionRules = (lb: string): string[][] => [
  ['INPUT', '-s', lb, '-j', 'DROP', '-m', 'comment', '--comment', 'edge-tunnel-testbed-partition'],
  ['OUTPUT', '-d', lb, '-j', 'DROP', '-m', 'comment', '--comment', 'edge-tunnel-testbed-partition'],
];

/** The mode to run: the option, else EDGE_TUNNEL_TESTBED_MODE, else netns when it can run. */
export async function chooseMode(wanted?: TestbedMode): Promise<{ mode: TestbedMode; reason: string }> {
  const forced = wanted ?? (process.env['EDGE_TUNNEL_TESTBED_MODE'] as TestbedMode | undefined);
  const unavailable = await netnsUnavailable();
  if (forced === 'loopback') return { mode: 'loopback', reason: 'loopback mode requested' };
  if (forced === 'netns' && unavailable) throw new Error(`testbed: netns mode requested but ${unavailable}`);
  return unavailable ? { mode: 'loopback', reason: unavailable } : { mode: 'netns', reason: 'root: network namespaces' };
}

/** How long a start may wait for one process; generous, because a shared 2-core machine can be slow. */
const READY_TIMEOUT_MS = 45_000;
/** SIGTERM → SIGKILL grace of the server: its drain (--drain-timeout-ms 1000) plus the iptables cleanup. */
const SERVER_STOP_GRACE_MS = 10_000;

export async function startTestbed(options: TestbedOptions = {}): Promise<Testbed> {
  const { mode, reason } = await chooseMode(options.mode);
  if (options.egressProxy && squidMissing()) throw new Error(`testbed: egressProxy: ${squidMissing()}`);
  if (options.weakLink && delayLineMissing()) throw new Error(`testbed: weakLink: ${delayLineMissing()}`);
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const plan = planTopology(mode, options.edges ?? 2, id, options.egressProxy !== undefined, options.weakLink !== undefined);
  const netns = mode === 'netns';
  const cloud = plan.cloudNs;
  const exporterPort = options.exporterPort ?? 9100;
  const buffer: string[] = [];
  const log = (line: string): void => {
    buffer.push(line);
    if (buffer.length > 2_000) buffer.splice(0, buffer.length - 2_000);
    options.log?.(line);
  };
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'edge-tunnel-testbed-')));
  const configPath = join(dir, 'edge-tunnel-server-cfg.yaml');
  const created: string[] = [];
  const procs: TestbedProcess[] = [];
  const eg = options.egressProxy;
  const squid =
    plan.proxy && eg
      ? new Squid(plan.proxy.ns, plan.proxy.address, plan.proxy.port, {
          connectPorts: eg.connectPorts ?? [SERVER_PORTS.agent, 443],
          ...(eg.auth ? { auth: eg.auth } : {}),
        })
      : undefined;
  let weakLink: WeakLink | undefined;
  const lastResort = (): void => {
    for (const p of procs) p.child.kill('SIGKILL');
    weakLink?.killSync();
    squid?.killSync();
    squid?.remove();
    deleteNamespacesSync(created);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  // SIGTERM/SIGINT (e.g. a tap timeout) would skip 'exit' handlers: clean up, then die of the signal.
  const onSignal = (signal: NodeJS.Signals): void => {
    lastResort();
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    process.kill(process.pid, signal);
  };
  process.once('exit', lastResort).once('SIGTERM', onSignal).once('SIGINT', onSignal);
  const inNs = (ns: string | undefined): string | undefined => (netns ? ns : undefined);
  const exec = (ns: string | undefined, cmd: string, args: readonly string[], timeoutMs?: number) => execIn(inNs(ns), cmd, args, timeoutMs);
  const spawn = (ns: string | undefined, name: string, cmd: string, args: readonly string[], env?: Record<string, string>): TestbedProcess => {
    const proc = startIn(inNs(ns), name, cmd, args, log, env);
    procs.push(proc);
    return proc;
  };
  const curlRoute = netns ? [] : ['-p', '-x', `http://${plan.serverAddress}:${SERVER_PORTS.connect}`];
  const curl = (args: readonly string[], timeoutMs?: number) => exec(cloud, 'curl', [...curlRoute, ...args], timeoutMs);
  const metaUrl = `http://${metaAddress(plan)}`;
  const meta = serverMeta({
    curl: (args, timeoutMs) => exec(cloud, 'curl', args, timeoutMs),
    metaUrl,
    ...(netns ? { capture: { serverAddress: plan.serverAddress, edgeIps: plan.edges.map((e) => e.ip) } } : {}),
  });
  const answers = async (ns: string | undefined, url: string): Promise<boolean> =>
    (await exec(ns, 'curl', ['-sf', '-o', '/dev/null', '-m', '1', url], 3_000)).code === 0;

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // SIGTERM: the server drains, then removes its rules (deleting the cloud namespace would anyway);
    // it gets longer than the rest before SIGKILL, so a loaded machine does not cut its cleanup short
    await Promise.all([...procs].reverse().map((p) => p.stop(p.name === 'server' ? SERVER_STOP_GRACE_MS : undefined)));
    await squid?.stop();
    squid?.remove();
    await weakLink?.stop();
    await deleteTopology(created);
    created.length = 0;
    process.off('exit', lastResort).off('SIGTERM', onSignal).off('SIGINT', onSignal);
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };

  try {
    const t0 = performance.now();
    const phase = (what: string): void => log(`[testbed] ${what} after ${(performance.now() - t0).toFixed(0)} ms`);
    if (netns) {
      const swept = await sweepStaleNamespaces();
      if (swept.length > 0) log(`[testbed] removed namespaces of killed runs: ${swept.join(', ')}`);
      await createTopology(plan, created);
    }
    phase(`${mode} topology ready (${reason})`);
    if (plan.wire && options.weakLink) {
      weakLink = await startWeakLink(plan.wire, plan.edges, options.weakLink, log);
      phase(`delay line on the uplinks in ${plan.wire.ns}`);
    }
    if (squid) {
      await squid.start();
      phase(`squid listening on ${plan.proxy!.address}:${plan.proxy!.port} in ${plan.proxy!.ns}`);
    }
    const certs = await writeTestbedCerts(join(dir, 'pki'), plan);
    phase('certificates written');
    await writePortConfig(configPath, options.portConfig ?? {});
    const kubelets = new Map<string, TestbedProcess>();
    const exporters = new Map<string, TestbedProcess>();
    const agents = new Map<string, TestbedProcess>();
    // Everything starts at once (agents retry until the server listens); then we wait for all of it.
    const launch = await prepareAgentLaunch(plan, certs, dir, options);
    const wsArgs = eg?.transport === 'websocket' ? ['--agent-ws-addr', `${plan.lbAddress}:443`] : [];
    const server = spawn(cloud, 'server', process.execPath, [...serverArgs(plan, certs, configPath), ...wsArgs, ...(options.serverArgs ?? [])]);
    const spawnAgent = (name: string): TestbedProcess => {
      const edge = plan.edges.find((e) => e.name === name);
      if (!edge) throw new Error(`testbed: no edge named ${name}`);
      const { args, env } = launch(edge);
      const proc = spawn(edge.ns, edge.name, process.execPath, args, env);
      agents.set(edge.name, proc);
      return proc;
    };
    for (const [i, edge] of plan.edges.entries()) {
      kubelets.set(edge.name, spawn(edge.ns, `kubelet-${edge.name}`, process.execPath, kubeletArgs(edge, certs)));
      if ((options.exporterOn ?? [0]).includes(i)) {
        exporters.set(edge.name, spawn(edge.ns, `exporter-${edge.name}`, NODE_EXPORTER, exporterArgs(edge, exporterPort)));
      }
      spawnAgent(edge.name);
    }
    await Promise.all([
      unlessExited(
        server,
        waitFor('the server to be ready', () => answers(cloud, `${metaUrl}/readyz`), READY_TIMEOUT_MS, 200),
      ),
      ...plan.edges.map((edge) =>
        unlessExited(
          kubelets.get(edge.name)!,
          waitFor(`kubelet ${edge.name}`, () => answers(edge.ns, `http://${edge.ip}:10255/healthz`), READY_TIMEOUT_MS, 200),
        ),
      ),
      ...plan.edges
        .filter((e) => exporters.has(e.name))
        .map((edge) =>
          unlessExited(
            exporters.get(edge.name)!,
            waitFor(`exporter ${edge.name}`, () => answers(edge.ns, `http://${edge.ip}:${exporterPort}/metrics`), READY_TIMEOUT_MS, 200),
          ),
        ),
    ]);
    phase('server, kubelets and exporters answer');
    const waitForTunnels = (names: readonly string[] = plan.edges.map((e) => e.name), timeoutMs = READY_TIMEOUT_MS): Promise<void> =>
      meta.waitForTunnels(names, timeoutMs);
    await unlessExited(server, Promise.all([waitForTunnels(), meta.waitForPortConfig(options.portConfig ?? {}, READY_TIMEOUT_MS)]));
    phase(`every agent attached${netns ? ', capture rules in' : ''}`);
    const setPortConfig = async (data: Record<string, string>): Promise<void> => {
      await writePortConfig(configPath, data);
      await unlessExited(server, meta.waitForPortConfig(data, READY_TIMEOUT_MS));
    };
    return {
      ...plan,
      modeReason: reason,
      edges: plan.edges,
      edgeNs: plan.edges.map((e) => e.ns),
      edgeIps: plan.edges.map((e) => e.ip),
      dir,
      configPath,
      certs,
      server,
      agents,
      spawnAgent,
      kubelets,
      exporters,
      metaUrl,
      proxy: squid ? { ...plan.proxy!, squid, url: proxyUrl(plan) } : undefined,
      weakLink,
      captureStatus: () => meta.get<ServerCaptureStatus>('/debug/capture'),
      exec,
      spawn,
      curl,
      curlRoute,
      setPortConfig,
      waitForTunnels,
      logs: () => [...buffer],
      close,
      partition: async (i: number): Promise<void> => {
        if (!netns) throw new Error('testbed: partition() needs netns mode');
        for (const rule of partitionRules(plan.lbAddress)) await mustExec(plan.edges[i]!.ns, 'iptables', ['-w', '-I', ...rule]);
      },
      heal: async (i: number): Promise<void> => {
        if (!netns) throw new Error('testbed: heal() needs netns mode');
        for (const rule of partitionRules(plan.lbAddress)) await execIn(plan.edges[i]!.ns, 'iptables', ['-w', '-D', ...rule]);
      },
    };
  } catch (err) {
    await close();
    const tail = buffer.slice(-25).join('\n');
    throw new Error(`${(err as Error).message}\nlast testbed log lines:\n${tail}`, { cause: err });
  }
}
