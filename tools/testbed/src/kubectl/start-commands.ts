// What `npm start` prints: the commands that work, as printed, against the running lab. In netns mode
// every command runs in the cloud namespace (`ip netns exec <cloud> …`), where edge IPs are reachable
// only through iptables DNAT to the server and the tunnel.
import { shellQuote } from './kubectl.js';
import type { KubectlTestbed } from './handle.js';
import { DEMO_POD } from './seed.js';

export interface StartCommand {
  title: string;
  command: string;
  /** runs until Ctrl-C (follow, a shell, port-forward) */
  interactive?: boolean;
}

/** The local port `kubectl port-forward` listens on, and the port on the node's 127.0.0.1 it reaches. */
const FORWARD = { local: 18080, netns: 10266, loopback: 10265 } as const;

export function kubectlCommands(tb: KubectlTestbed): StartCommand[] {
  const k = (...args: string[]): string => tb.kubectl.printable(args);
  const pod = DEMO_POD.name;
  const target = tb.netns ? FORWARD.netns : FORWARD.loopback;
  const cloud = tb.netns ? `ip netns exec ${tb.netns.cloudNs} ` : '';
  return [
    { title: 'the edge nodes and the demo pod', command: k('get', 'nodes,pods') },
    { title: 'run a command in the pod, on the edge node', command: k('exec', pod, '-c', 'app', '--', 'sh', '-c', 'uname -n; echo node=$NODE_NAME') },
    { title: 'copy a file into the pod', command: k('cp', './README.md', `default/${pod}:/tmp/README.md`, '-c', 'app') },
    { title: 'follow the container log (Ctrl-C closes the stream at the kubelet)', command: k('logs', '-f', pod, '-c', 'app'), interactive: true },
    { title: 'a shell in the pod', command: k('exec', '-it', pod, '-c', 'app', '--', 'sh'), interactive: true },
    {
      title: `port-forward to the node's 127.0.0.1:${target}; then: ${cloud}curl -s localhost:${FORWARD.local}/healthz`,
      command: k('port-forward', `pod/${pod}`, `${FORWARD.local}:${target}`),
      interactive: true,
    },
  ];
}

/** curl from the cloud namespace to the edges (netns mode). */
export function netnsCurlCommands(tb: KubectlTestbed): StartCommand[] {
  const bed = tb.netns!;
  const curl = (...args: string[]): string => ['ip', 'netns', 'exec', bed.cloudNs!, 'curl', ...args].map(shellQuote).join(' ');
  const [a, b = a] = tb.nodes as [(typeof tb.nodes)[0], (typeof tb.nodes)[0]?];
  const tls = ['--cacert', bed.certs.path('ca', 'crt'), '--cert', bed.certs.path('caller', 'crt'), '--key', bed.certs.path('caller', 'key')];
  return [
    { title: `kubelet read-only port of ${a.name}: DNAT to the server's :10264, then the tunnel`, command: curl('-s', `http://${a.ip}:10255/healthz`) },
    {
      title: `kubelet HTTPS API of ${b.name} with the caller certificate kube-apiserver presents (DNAT to :10263)`,
      command: curl('-s', ...tls, `https://${b.ip}:10250/stats/summary`),
    },
    ...(tb.exporterPort === undefined
      ? []
      : [
          {
            title: `prometheus-node-exporter on ${a.name}, opened by dnat-ports-pair ${tb.exporterPort}=10264`,
            command: curl('-s', `http://${a.ip}:${tb.exporterPort}/metrics`),
          },
        ]),
    {
      title: 'a port nobody configured: the catch-all DNAT answers an immediate 403 PORT_NOT_CONFIGURED',
      command: curl('-sS', '-i', '-m', '2', `http://${a.ip}:9999/`),
    },
    { title: 'tunnels and config, as an operator sees them', command: curl('-s', `http://127.0.0.1:10265/debug/tunnels`) },
  ];
}

function block(commands: readonly StartCommand[]): string[] {
  return commands.flatMap((c) => [`  # ${c.title}`, `  ${c.command}`]);
}

/** The text `npm start` prints once everything is up. */
export function startBanner(tb: KubectlTestbed): string {
  const nodes = tb.nodes.map((n) => `${n.name}=${n.ip}`).join(', ');
  const head = tb.netns
    ? [
        `edge-tunnel lab is up in network namespaces: cloud ${tb.netns.cloudNs}, edge nodes ${nodes}`,
        `The cloud reaches edge IPs only through iptables DNAT to the server and the tunnel. Config (edits apply live): ${tb.netns.configPath}`,
        '',
        'Try (in another terminal, as root):',
        ...block(netnsCurlCommands(tb)),
      ]
    : [
        `edge-tunnel lab is up on loopback (${tb.modeReason}): server on ${tb.lab!.serverHost}, edge nodes ${nodes}`,
        `certificates and config in ${tb.lab!.dir} (edit ${tb.lab!.configPath} to open ports live)`,
        '',
        'Try (in another terminal):',
        ...block(tb.lab!.commands),
      ];
  const via = tb.netns ? `a process in the cloud namespace that dials edgeIP:10250 like kube-apiserver` : 'in-process, through the CONNECT frontend';
  return [
    '',
    ...head,
    '',
    `kubectl, through an emulated API server (${via}; ${tb.mode}):`,
    ...block(kubectlCommands(tb)),
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}
