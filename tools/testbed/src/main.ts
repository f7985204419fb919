#!/usr/bin/env node
// `npm start`: the lab (server, agents, emulated kubelets, exporter) plus an emulated API server that
// reaches kubelets only through the tunnel, so the real kubectl works against the edge nodes.
import { DEFAULT_NODES, DEFAULT_PORTS } from '@edge-tunnel/lab';
import { join } from 'node:path';
import { startKubectlTestbed } from './kubectl/testbed.js';

const tb = await startKubectlTestbed({ lab: { nodes: [...DEFAULT_NODES], ports: DEFAULT_PORTS, pretty: true }, log: (line) => console.log(line) });
const { lab } = tb;
const k = `kubectl --kubeconfig ${join(tb.dir, 'kubeconfig')}`;
const pod = 'demo';
const lines = [
  '',
  `edge-tunnel lab is up: server on ${lab.serverHost}, edge nodes ${lab.nodes.map((n) => `${n.name}=${n.ip}`).join(', ')}`,
  `certificates and config in ${lab.dir} (edit ${lab.configPath} to open ports live)`,
  '',
  'Try (in another terminal):',
  ...lab.commands.flatMap((c) => [`  # ${c.title}`, `  ${c.command}`]),
  '',
  `kubectl, through an emulated API server that reaches kubelets only via the tunnel (${tb.mode}):`,
  `  ${k} get nodes,pods -o wide`,
  `  ${k} logs -f ${pod} -c app`,
  `  ${k} exec ${pod} -c app -- sh -c 'uname -a; id'`,
  `  ${k} exec -it ${pod} -c app -- sh`,
  `  ${k} port-forward pod/${pod} 18080:10265   # then: curl localhost:18080/healthz (a port on the node's 127.0.0.1)`,
  `  ${k} cp ./README.md default/${pod}:/tmp/README.md -c app`,
  '',
  'Ctrl-C stops everything.',
  '',
];
console.log(lines.join('\n'));

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping the lab…');
  tb.close().then(() => process.exit(0), (err: unknown) => {
    console.error('lab: shutdown failed', err);
    process.exit(1);
  });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
