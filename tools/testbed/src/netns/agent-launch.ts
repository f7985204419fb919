// How each agent of the testbed starts: its argv and the environment it adds. Either the testbed's own
// flag list (apps.ts agentArgs) or, with `agentCommand: 'daemonset'`, the container args of
// k8s/base/agent-daemonset.yaml as the kubelet runs them: `$(VAR)` filled from the container's env
// (downward API: spec.nodeName, status.hostIP), each volume mount a directory of its own, the node
// already enrolled (its issued agent.crt/key in the state volume). Then the egress proxy, told the way
// an operator tells it: HTTPS_PROXY in the environment, or --proxy with --proxy-auth-file.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { agentArgs, appScript } from './apps.js';
import type { TestbedCerts } from './certs.js';
import { SERVER_PORTS, type EdgePlan, type TestbedOptions, type TopologyPlan } from './options.js';

/** The agent DaemonSet an operator applies (kustomize base). */
export const DAEMONSET_PATH = fileURLToPath(new URL('../../../../k8s/base/agent-daemonset.yaml', import.meta.url));

export interface AgentLaunch {
  args: string[];
  /** added to the inherited environment (empty: none) */
  env: Record<string, string>;
}

interface Container {
  name: string;
  args: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

/** The agent container of the DaemonSet manifest. */
export async function daemonSetContainer(path = DAEMONSET_PATH): Promise<Container> {
  const doc = parse(await readFile(path, 'utf8')) as { spec: { template: { spec: { containers: Container[] } } } };
  const c = doc.spec.template.spec.containers.find((x) => x.name === 'agent');
  if (!c) throw new Error(`testbed: no container "agent" in ${path}`);
  return c;
}

/** `$(NAME)` as the kubelet expands it: from the container's env; `$$(NAME)` stays literal; unknown names stay. */
export function expandKubeVars(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (name === undefined ? '$(' : (env[name] ?? m)));
}

/** The proxy URL an agent is given (credentials only in the env variant's URL). */
export function proxyUrl(plan: TopologyPlan, auth?: { user: string; password: string }): string {
  const p = plan.proxy!;
  const userinfo = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@` : '';
  return `http://${userinfo}${p.address}:${p.port}`;
}

/**
 * Writes what the launches need under `dir` (per-node volumes, the proxy auth file) and returns the
 * launcher. Restarts of an agent reuse it, so a restarted agent runs as the first one did.
 */
export async function prepareAgentLaunch(
  plan: TopologyPlan,
  certs: TestbedCerts,
  dir: string,
  options: TestbedOptions,
): Promise<(edge: EdgePlan) => AgentLaunch> {
  const proxy = options.egressProxy;
  const proxyArgs: string[] = [];
  const proxyEnv: Record<string, string> = {};
  if (proxy) {
    if ((proxy.via ?? 'env') === 'env') proxyEnv['HTTPS_PROXY'] = proxyUrl(plan, proxy.auth);
    else {
      proxyArgs.push('--proxy', proxyUrl(plan));
      if (proxy.auth) {
        const file = join(dir, 'proxy-auth');
        await writeFile(file, `${proxy.auth.user}:${proxy.auth.password}\n`, { mode: 0o600 });
        proxyArgs.push('--proxy-auth-file', file);
      }
    }
    if (proxy.transport === 'websocket') proxyArgs.push('--transport', 'websocket');
  }
  const extra = [...(options.agentArgs ?? []), ...proxyArgs];
  if ((options.agentCommand ?? 'testbed') === 'testbed') {
    return (edge) => ({ args: [...agentArgs(plan, edge, certs, options.agentAllowPorts ?? []), ...extra], env: { ...proxyEnv } });
  }
  if (plan.mode !== 'netns') throw new Error('testbed: agentCommand daemonset needs netns mode (its meta port 127.0.0.1:10266 is fixed)');
  const container = await daemonSetContainer();
  const launches = new Map<string, AgentLaunch>();
  for (const edge of plan.edges) {
    const podDir = join(dir, `agent-pod-${edge.name}`);
    const mounts = new Map<string, string>();
    for (const m of container.volumeMounts ?? []) {
      const local = join(podDir, m.name);
      await mkdir(local, { recursive: true });
      mounts.set(m.mountPath, local);
    }
    const onVolume = (path: string): string | undefined => {
      for (const [mountPath, local] of mounts) if (path === mountPath || path.startsWith(`${mountPath}/`)) return join(local, path.slice(mountPath.length));
      return undefined;
    };
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      env[e.name] = field === 'spec.nodeName' ? edge.name : field === 'status.hostIP' ? edge.ip : expandKubeVars(e.value ?? '', env);
    }
    env['SERVER_ADDR'] = `${plan.lbAddress}:${SERVER_PORTS.agent}`; // what an overlay sets
    const args = container.args
      .map((a) => expandKubeVars(a, env))
      .map((a) => {
        const m = /^(--[a-z-]+=)(\/.*)$/.exec(a);
        const local = m ? onVolume(m[2]!) : undefined;
        return local ? `${m![1]}${local}` : a;
      });
    const flag = (name: string): string => {
      const v = args.find((a) => a.startsWith(`--${name}=`));
      if (!v) throw new Error(`testbed: the DaemonSet's agent has no --${name}`);
      return v.slice(name.length + 3);
    };
    // the volumes' content: the bootstrap Secret (token, ca.crt) and the state of an enrolled node
    await writeFile(flag('bootstrap-token-file'), 'testbed-unused-token\n', { mode: 0o600 });
    await copyFile(certs.path('ca', 'crt'), flag('ca'));
    await copyFile(certs.path(`agent-${edge.name}`, 'crt'), flag('cert'));
    await copyFile(certs.path(`agent-${edge.name}`, 'key'), flag('key'));
    const script = args[0] === 'apps/agent/dist/main.js' ? appScript('@edge-tunnel/agent') : args[0]!;
    launches.set(edge.name, { args: [script, ...args.slice(1), ...extra], env: { ...env, ...proxyEnv } });
  }
  return (edge) => launches.get(edge.name)!;
}
