// Cluster mode without an API server: the flags, the DNAT targets, the edge-Node registry and the
// pod-lookup destination (pure parts; nothing here loads @kubernetes/client-node).
import type { IncomingMessage } from 'node:http';
import type { Session } from '@edge-tunnel/framing';
import t from 'tap';
import { AgentRegistry } from '../src/agents/registry.js';
import type { AgentSession } from '../src/agents/registry.js';
import { EdgeAgentRegistry } from '../src/cluster/edge-registry.js';
import { iptablesTarget } from '../src/capture/targets.js';
import { destWithPodRoute } from '../src/proxy/dest.js';
import type { PodRoute } from '../src/proxy/dest.js';
import { DEFAULT_EDGE_SELECTORS, ServerErrorCode, parseConfig } from '../src/index.js';
import type { ServerConfig } from '../src/index.js';

const required = ['--cert', 'c.pem', '--key', 'k.pem', '--agent-ca', 'a.pem', '--caller-ca', 'ca.pem'];

function config(argv: string[], env: Record<string, string> = {}): ServerConfig {
  const r = parseConfig([...required, ...argv], env);
  if (r.help) throw new Error('help');
  return r.config;
}

t.test('cluster flags: defaults, --kubeconfig implies cluster mode, capture default by mode', async (t) => {
  const standalone = config([]);
  t.match(standalone, { kubernetes: false, capture: 'none', namespace: 'kube-system', portConfigMap: 'edge-tunnel-server-cfg', podCacheTtlMs: 30_000 });
  t.same(standalone.edgeNodeSelectors, DEFAULT_EDGE_SELECTORS);
  t.match(config(['--kubernetes']), {
    kubernetes: true,
    capture: 'dns',
    dnsConfigMap: 'edge-tunnel-nodes',
    internalService: 'edge-tunnel-server-internal',
    leaseName: 'edge-tunnel-server',
    caSecret: 'edge-tunnel-ca',
    bootstrapTokenSecret: 'edge-tunnel-bootstrap',
  });
  t.match(config(['--kubeconfig', '/k']), { kubernetes: true, kubeconfig: '/k', capture: 'dns' });
  const c = config(
    [
      '--kubernetes',
      '--edge-node-selector',
      'a=true',
      '--edge-node-selector=b in (x,y),c!=z',
      '--capture=iptables',
      '--iptables-https-target',
      '10.0.0.10:10263',
      '--pod-cache-ttl-ms',
      '500',
    ],
    { POD_IP: '10.0.0.7' },
  );
  t.same(c.edgeNodeSelectors, ['a=true', 'b in (x,y),c!=z'], 'repeatable; commas stay inside one selector');
  t.same(c.iptablesHttpsTarget, { ip: '10.0.0.10', port: 10263 });
  t.equal(c.iptablesHttpTarget, undefined);
  t.equal(c.podIp, '10.0.0.7');
  t.equal(c.podCacheTtlMs, 500);
  t.same(
    config(['--kubernetes'], { EDGE_TUNNEL_EDGE_NODE_SELECTOR: 'x=1;y=2', EDGE_TUNNEL_CAPTURE: 'none' }).edgeNodeSelectors,
    ['x=1', 'y=2'],
    'env: ;-separated',
  );
});

t.test('bad cluster flags are refused with a sentence', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--capture', 'dns'], /--capture=dns needs cluster mode \(--kubernetes or --kubeconfig\)/],
    [
      ['--kubernetes', '--capture', 'iptables'],
      /--capture=iptables: --https-addr :10263 listens on every address, so the DNAT target is unknown; set --iptables-https-target to an IPv4 ip:port of this host, or \$POD_IP/,
    ],
    [
      ['--kubernetes', '--edge-node-ip', '10.0.0.5', '--capture', 'iptables', '--iptables-https-target', '10.0.0.1:1', '--iptables-http-target', '10.0.0.1:2'],
      /--edge-node-ip is for standalone mode/,
    ],
    [['--kubernetes', '--capture', 'ebpf'], /--capture .* must be one of iptables, dns, none/],
    [
      ['--kubernetes', '--config', '/p.yaml'],
      /--config cannot be used in cluster mode: the port config comes from ConfigMap kube-system\/edge-tunnel-server-cfg/,
    ],
    [['--kubernetes', '--iptables-http-target', 'host:1'], /--iptables-http-target .* must be an IPv4 address and port/],
    [['--kubernetes', '--iptables-http-target', '10.0.0.1:0'], /IPv4 address and port/],
    [['--kubernetes', '--namespace', 'Kube_System'], /--namespace must be a Kubernetes object name/],
    [['--kubernetes', '--edge-node-selector', '=x'], /--edge-node-selector .* must be a label selector/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => parseConfig([...required, ...argv], {}), { code: ServerErrorCode.INVALID_CONFIG, message }, argv.join(' '));
  }
});

t.test('DNAT targets: the flag, else the listener; a wildcard listener → $POD_IP, else a sentence naming the flags', async (t) => {
  const bound = { host: '0.0.0.0', port: 40001 };
  const flags = { target: 'iptables-http-target', addr: 'http-addr' };
  t.same(iptablesTarget({ ip: '10.9.9.9', port: 1 }, { host: '', port: 0 }, bound, undefined, flags), { ip: '10.9.9.9', port: 1 });
  t.same(iptablesTarget(undefined, { host: '10.0.0.3', port: 0 }, bound, '10.0.0.7', flags), { ip: '10.0.0.3', port: 40001 });
  t.same(iptablesTarget(undefined, { host: '', port: 10263 }, bound, '10.0.0.7', flags), { ip: '10.0.0.7', port: 40001 });
  t.throws(() => iptablesTarget(undefined, { host: '0.0.0.0', port: 10264 }, bound, undefined, flags), {
    code: ServerErrorCode.INVALID_CONFIG,
    message: /--http-addr 0\.0\.0\.0:10264 listens on every address.*set --iptables-http-target .*, or \$POD_IP/,
  });
  t.throws(
    () => iptablesTarget(undefined, { host: '::', port: 10264 }, bound, 'fd00::7', flags),
    { code: ServerErrorCode.INVALID_CONFIG, message: /\$POD_IP fd00::7 is not IPv4/ },
    'an IPv6 pod IP cannot be a DNAT target',
  );
});

const agent = (nodeName: string, nodeIps: string[]): AgentSession => ({
  sessionId: nodeName,
  nodeName,
  nodeIps,
  agentVersion: 't',
  remoteAddress: 'x',
  connectedAt: 0,
  session: {} as Session,
  ports: {},
});

t.test('the edge registry admits agents of edge Nodes only, with their InternalIPs', async (t) => {
  const refused: string[] = [];
  const badIps: string[] = [];
  const r = new EdgeAgentRegistry({ selectors: ['e=true'], onRefused: (_a, reason) => refused.push(reason), onBadIp: (n, ip) => badIps.push(`${n} ${ip}`) });
  t.throws(() => r.attach(agent('edge-a', [])), { message: /not loaded from the Kubernetes API yet/ });
  r.setEdgeNodes([
    { name: 'Edge-A', ips: ['10.0.0.5', 'fd00::5', 'not-an-ip'] },
    { name: 'edge-b', ips: [] },
  ]);
  t.same(badIps, ['edge-a not-an-ip']);
  t.same(r.table.get('edge-a')?.ips, ['10.0.0.5', 'fd00::5']);
  t.equal(r.attach(agent('edge-a', ['10.0.0.5', 'FD00:0::5'])), undefined, 'any spelling of its IPs');
  t.same(r.table.get('edge-a')?.ips, ['10.0.0.5', 'fd00::5'], 'the Node IPs stay (the hello cannot change them)');
  t.throws(() => r.attach(agent('edge-b', ['10.0.0.6'])), {
    message: 'agent of node edge-b claims IP 10.0.0.6, which is not an InternalIP of Node edge-b (InternalIPs: none)',
  });
  t.throws(() => r.attach(agent('edge-z', [])), { message: "node edge-z is not an edge Node: no Node of that name matches 'e=true'" });
  t.equal(refused.length, 3);

  const a = r.get('edge-a')!;
  const applied = r.setEdgeNodes([{ name: 'edge-b', ips: ['10.0.0.6'] }]);
  t.same(
    applied.removed.map((x) => [x.name, x.session === a]),
    [['edge-a', true]],
    'the removed node hands back its session',
  );
  t.equal(r.table.byIp('10.0.0.5'), undefined);
  t.equal(r.detach(a), false, 'its later close is a no-op');
});

function req(host: string | undefined, url: string, dest?: string): IncomingMessage {
  return { url, headers: { ...(host ? { host } : {}), ...(dest ? { 'x-tunnel-proxy-dest': dest } : {}) } } as unknown as IncomingMessage;
}

t.test('registry onChange: every node table change, nothing for a stale detach, until unsubscribed', async (t) => {
  const plain = new AgentRegistry();
  let changes = 0;
  const off = plain.onChange(() => changes++);
  const first = agent('edge-a', ['10.0.0.5']);
  const second = agent('edge-a', ['10.0.0.6']);
  plain.attach(first);
  plain.attach(second);
  t.equal(changes, 2, 'attach, and a replacing attach (new IPs)');
  t.equal(plain.detach(first), false);
  t.equal(changes, 2, 'a replaced session leaving changes nothing');
  plain.detach(second);
  t.equal(changes, 3, 'the live session leaving');
  t.same(plain.table.get('edge-a')?.ips, ['10.0.0.6'], 'the node and its IPs stay after its agent left');
  off();
  plain.attach(first);
  t.equal(changes, 3, 'unsubscribed');

  const edge = new EdgeAgentRegistry({ selectors: ['x=1'] });
  let edgeChanges = 0;
  edge.onChange(() => edgeChanges++);
  edge.setEdgeNodes([{ name: 'edge-a', ips: ['10.0.0.5'] }]);
  edge.attach(agent('edge-a', ['10.0.0.5']));
  t.equal(edgeChanges, 2, 'cluster mode: the Node set and an admitted agent');
});

t.test("destWithPodRoute: pod paths with a non-node Host go to the pod's node", async (t) => {
  const lookups: string[] = [];
  const pods: PodRoute = {
    podOf: (path) => {
      const m = /^\/(?:containerLogs|exec)\/([^/]+)\/([^/?]+)/.exec(path);
      return m ? { namespace: m[1]!, pod: m[2]! } : undefined;
    },
    podNode: async (namespace, pod) => {
      lookups.push(`${namespace}/${pod}`);
      if (pod === 'boom') throw new Error('apiserver unavailable');
      return pod === 'demo' ? 'edge-a' : undefined;
    },
  };
  const isNode = (host: string): boolean => host === 'edge-a' || host === '10.0.0.5';
  t.same(await destWithPodRoute(req('svc.ns:10250', '/containerLogs/default/demo/app'), isNode, pods), { host: 'edge-a', port: 10250 });
  t.same(
    await destWithPodRoute(req(undefined, '/exec/default/demo/app', 'svc:10250'), isNode, pods),
    { host: 'edge-a', port: 10250 },
    'X-Tunnel-Proxy-Dest too',
  );
  t.same(await destWithPodRoute(req('10.0.0.5:10250', '/containerLogs/default/demo/app'), isNode, pods), { host: '10.0.0.5', port: 10250 }, 'a node Host wins');
  t.same(await destWithPodRoute(req('svc:10250', '/pods'), isNode, pods), { host: 'svc', port: 10250 }, 'other paths unchanged');
  t.equal(lookups.length, 2, 'lookups only for pod paths with a non-node Host');
  t.match(await destWithPodRoute(req('svc:10250', '/containerLogs/default/gone/app'), isNode, pods), {
    status: 502,
    reason: 'NODE_UNKNOWN',
    message: /pod default\/gone named by the path does not exist/,
  });
  t.match(await destWithPodRoute(req('svc:10250', '/containerLogs/default/boom/app'), isNode, pods), {
    status: 503,
    reason: 'POD_LOOKUP_FAILED',
    message: /apiserver unavailable/,
  });
  t.match(await destWithPodRoute(req(undefined, '/containerLogs/default/demo/app'), isNode, pods), { status: 400, reason: 'NO_DESTINATION' });
});
