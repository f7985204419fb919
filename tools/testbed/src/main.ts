#!/usr/bin/env node
// `npm start`: as root, the network-namespace lab (server, agents, emulated kubelets, exporter, and an
// emulated API server process in the cloud namespace that reaches kubelets only through DNAT and the
// tunnel); otherwise, or with `--loopback`, the loopback lab with the API server in-process.
// Prints commands that work as printed; Ctrl-C leaves no namespace, rule or process behind.
import { DEFAULT_NODES, DEFAULT_PORTS } from '@edge-tunnel/lab';
import { startBanner } from './kubectl/start-commands.js';
import { netnsUnavailable } from './netns/topology.js';
import { startKubectlTestbed, type KubectlTestbed, type KubectlTestbedOptions } from './kubectl/testbed.js';

const options: KubectlTestbedOptions = {
  mode: process.argv.includes('--loopback') ? 'loopback' : undefined,
  lab: { nodes: [...DEFAULT_NODES], ports: DEFAULT_PORTS, pretty: true },
  log: (line) => console.log(line),
};

/** Root without the kernel's permission for namespaces (e.g. in a container) still gets a lab. */
async function start(): Promise<KubectlTestbed> {
  try {
    return await startKubectlTestbed(options);
  } catch (err) {
    const triedNetns = options.mode === undefined && process.env['EDGE_TUNNEL_TESTBED_MODE'] === undefined && (await netnsUnavailable()) === undefined;
    if (!triedNetns) throw err;
    console.error(
      `\nlab: the network-namespace lab did not start: ${(err as Error).message.split('\n')[0]}\nlab: starting the loopback lab instead (npm start -- --loopback skips the attempt)\n`,
    );
    return startKubectlTestbed({ ...options, mode: 'loopback' });
  }
}

const tb = await start();
console.log(startBanner(tb));

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping the lab…');
  tb.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('lab: shutdown failed', err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
