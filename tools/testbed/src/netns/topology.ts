// Creates and removes the namespaces of the netns mode:
//
//   cloud ns: lo 127.0.0.1, 10.250.0.1 (LB), 10.250.0.2 (server); veth edge<i> 10.250.<i>.1/30
//             10.251.0.0/16 dev lo (a sink: Linux needs a route at connect() before nat OUTPUT runs)
//             filter OUTPUT -d 10.251.0.0/16 -p tcp REJECT tcp-reset (what DNAT did not take fails at once)
//   edge<i> ns: veth uplink 10.250.<i>.2/30, lo 10.251.<i>.2/32 (the node IP); route 10.250.0.1/32 only
//
// No namespace has a default route; the cloud never forwards (ip_forward is 0 in a new namespace).
//
// With egressProxy the edge uplinks end in a proxy namespace instead, and the edges route only squid:
//   proxy ns: lo 10.249.1.1 (squid); veth edge<i> 10.250.<i>.1/30; veth cloud 10.249.0.2/30, route
//             10.250.0.1/32 (LB) via the cloud; ip_forward=0: nothing crosses it but squid's CONNECTs
//   cloud ns: veth proxy 10.249.0.1/30 instead of the edge veths
//   edge<i> ns: route 10.249.1.1/32 only (no route to the LB: a direct dial fails with ENETUNREACH)
//
// With weakLink the edge uplinks end in a wire namespace that forwards between them and the cloud;
// delay-line.ts then adds the TUN pair and the policy routing that sends every packet through it:
//   wire ns: veth edge<i> 10.250.<i>.1/30; veth cloud 10.248.0.2/30, route 10.250.0.1/32 (LB) via the
//            cloud; ip_forward=1, rp_filter=0 (a packet re-enters from a TUN device, not its route)
//   cloud ns: veth wire 10.248.0.1/30, route 10.250.<i>.0/30 via the wire (the agents' return path)
import { execIn, listNamespaces, mustExec } from './exec.js';
import { NS_PREFIX, type TopologyPlan } from './options.js';

/** Why the netns mode cannot run here, or undefined when it can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: network namespaces and iptables need root';
  for (const cmd of ['ip', 'iptables', 'iptables-save', 'iptables-restore', 'curl']) {
    if ((await execIn(undefined, 'sh', ['-c', `command -v ${cmd}`])).code !== 0) {
      return `${cmd} not installed (Debian packages iproute2, iptables, curl)`;
    }
  }
  return undefined;
}

/**
 * Creates every namespace and link of the plan. `created` receives each namespace as soon as it
 * exists, so that the caller can delete them even when this throws half-way.
 */
export async function createTopology(plan: TopologyPlan, created: string[]): Promise<void> {
  const cloud = plan.cloudNs!;
  const ipn = (ns: string, ...args: string[]) => mustExec(undefined, 'ip', ['-n', ns, ...args]);
  await mustExec(undefined, 'ip', ['netns', 'add', cloud]);
  created.push(cloud);
  await ipn(cloud, 'link', 'set', 'lo', 'up');
  for (const addr of [plan.lbAddress, plan.serverAddress]) await ipn(cloud, 'addr', 'add', `${addr}/32`, 'dev', 'lo');
  await ipn(cloud, 'route', 'add', plan.edgeNet, 'dev', 'lo');
  // Without this, a connection DNAT did not take would hang (the sink drops it) instead of failing at
  // once. A TCP reset, because an ICMP error for a packet routed via lo never reaches the socket.
  await mustExec(cloud, 'iptables', [
    '-A',
    'OUTPUT',
    '-d',
    plan.edgeNet,
    '-p',
    'tcp',
    '-m',
    'comment',
    '--comment',
    'testbed: edges only through the tunnel',
    '-j',
    'REJECT',
    '--reject-with',
    'tcp-reset',
  ]);
  // a namespace between the edges and the cloud (proxy or wire): lo up, one veth to the cloud, the LB via it
  const middle = async (ns: string, dev: string, cloudEnd: string, middleEnd: string, sysctls: string[]): Promise<void> => {
    await mustExec(undefined, 'ip', ['netns', 'add', ns]);
    created.push(ns);
    await ipn(ns, 'link', 'set', 'lo', 'up');
    for (const key of sysctls) await mustExec(ns, 'sysctl', ['-qw', `net.ipv4.${key}`]);
    await ipn(cloud, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', 'cloud', 'netns', ns);
    await ipn(cloud, 'addr', 'add', `${cloudEnd}/30`, 'dev', dev);
    await ipn(ns, 'addr', 'add', `${middleEnd}/30`, 'dev', 'cloud');
    await ipn(cloud, 'link', 'set', dev, 'up');
    await ipn(ns, 'link', 'set', 'cloud', 'up');
    await ipn(ns, 'route', 'add', `${plan.lbAddress}/32`, 'via', cloudEnd);
  };
  const proxy = plan.proxy;
  if (proxy) {
    await middle(proxy.ns, 'proxy', proxy.cloudLinkCloud, proxy.cloudLinkProxy, ['ip_forward=0']);
    await ipn(proxy.ns, 'addr', 'add', `${proxy.address}/32`, 'dev', 'lo');
  }
  const wire = plan.wire;
  // sysctls before any device exists, so each inherits rp_filter 0 from `default`
  if (wire) await middle(wire.ns, 'wire', wire.cloudLinkCloud, wire.cloudLinkWire, ['ip_forward=1', 'conf.all.rp_filter=0', 'conf.default.rp_filter=0']);
  // the far end of each uplink: the cloud, the proxy or the wire namespace
  const far = proxy?.ns ?? wire?.ns ?? cloud;
  for (const edge of plan.edges) {
    await mustExec(undefined, 'ip', ['netns', 'add', edge.ns]);
    created.push(edge.ns);
    await ipn(edge.ns, 'link', 'set', 'lo', 'up');
    await ipn(edge.ns, 'addr', 'add', `${edge.ip}/32`, 'dev', 'lo');
    await ipn(far, 'link', 'add', edge.cloudDev, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', edge.ns);
    await ipn(far, 'addr', 'add', `${edge.uplinkCloud}/30`, 'dev', edge.cloudDev);
    await ipn(edge.ns, 'addr', 'add', `${edge.uplinkEdge}/30`, 'dev', 'uplink');
    await ipn(far, 'link', 'set', edge.cloudDev, 'up');
    await ipn(edge.ns, 'link', 'set', 'uplink', 'up');
    await ipn(edge.ns, 'route', 'add', `${proxy?.address ?? plan.lbAddress}/32`, 'via', edge.uplinkCloud);
    if (wire) await ipn(cloud, 'route', 'add', `${edge.uplinkCloud.replace(/\.\d+$/, '.0')}/30`, 'via', wire.cloudLinkWire);
  }
}

/** Deletes the namespaces (their veths and iptables rules go with them); never throws. */
export async function deleteTopology(created: readonly string[]): Promise<void> {
  for (const ns of [...created].reverse()) await execIn(undefined, 'ip', ['netns', 'del', ns]);
}

/** The pid that created a testbed namespace (`et-tb-<pid>-<id>-…`), or undefined for a foreign name. */
export function creatorPid(ns: string): number | undefined {
  const m = new RegExp(`^${NS_PREFIX}(\\d+)-[0-9a-f]+-(c|p|w|e\\d+)$`).exec(ns);
  return m ? Number(m[1]) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what a killed run left behind (SIGKILL skips every cleanup): testbed namespaces whose
 * creating process is gone, after killing the processes still inside them. Returns their names.
 */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((ns) => {
    const pid = creatorPid(ns);
    return pid !== undefined && pid !== process.pid && !alive(pid);
  });
  for (const ns of stale) {
    const pids = (await execIn(undefined, 'ip', ['netns', 'pids', ns])).stdout.split('\n').filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await execIn(undefined, 'ip', ['netns', 'del', ns]);
  }
  return stale;
}
