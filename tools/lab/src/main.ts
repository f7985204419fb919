#!/usr/bin/env node
// `npm start`: runs the lab until Ctrl-C and prints the commands that work through the tunnel.
import { startLab } from './lab.js';

const lab = await startLab();
const lines = [
  '',
  `edge-tunnel lab is up: server on ${lab.serverHost}, edge nodes ${lab.nodes.map((n) => `${n.name}=${n.ip}`).join(', ')}`,
  `certificates and config in ${lab.dir} (edit ${lab.configPath} to open ports live)`,
  '',
  'Try (in another terminal):',
  ...lab.commands.flatMap((c) => [`  # ${c.title}`, `  ${c.command}`]),
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
  lab.close().then(() => process.exit(0), (err: unknown) => {
    console.error('lab: shutdown failed', err);
    process.exit(1);
  });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
