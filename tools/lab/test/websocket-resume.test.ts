// Session resumption over the WebSocket transport, end to end through an L7 hop: Debian's haproxy in
// `mode http` terminates the agent's TLS in front of the server's --agent-ws-addr (as in
// websocket-transport.test.ts). The agent's TCP connection to haproxy is killed with `ss -K` in the
// middle of a long download through the tunnel; the agent dials haproxy again, offers the resume
// subprotocol, proves the session over the new connection's challenge and resumes: the download
// completes byte-identical and both sides log the resume. Needs root (ss -K uses SOCK_DESTROY).
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startLab } from '../src/index.js';
import { sh } from './fixtures/lab.js';
import { cutAgentConnection, pacedSource } from './fixtures/cuts.js';
import { startHaproxy, wsHop, type Haproxy } from './fixtures/haproxy.js';

const root = process.getuid?.() === 0;
const hasTools = (await sh('command -v haproxy && command -v curl && command -v ss')).code === 0;
const skip = !root ? 'needs root for ss -K' : !hasTools ? 'needs haproxy, curl and ss' : false;
const MiB = 1024 * 1024;
const SUBNET = 180;

t.test("ss -K on the agent's WebSocket connection through haproxy mid-download: the session resumes, byte-identical", { skip }, async (t) => {
  const lines: string[] = [];
  let haproxy: Haproxy | undefined;
  const wsPort = await freePort();
  const hopPort = await freePort();
  const lab = await startLab({
    nodes: [{ name: 'edge-a', ip: `127.0.${SUBNET}.1` }],
    ports: { agent: await freePort(), https: await freePort(), http: await freePort(), meta: await freePort(), connect: await freePort(), exporter: 9100 },
    pretty: false,
    log: (line) => lines.push(line),
    serverArgs: ['--agent-ws-addr', `127.0.0.1:${wsPort}`],
    agentArgs: ['--transport', 'websocket', '--ws-url', `wss://127.0.0.1:${hopPort}/edge-tunnel/v1/session`, '--backoff-max-ms', '500'],
    onCerts: async (dir: string) => {
      haproxy = await startHaproxy(dir, 'haproxy', await wsHop(dir, hopPort, wsPort));
    },
  });
  t.teardown(async () => {
    await lab.close();
    haproxy?.stop();
  });
  t.teardown(() => {
    if (!t.passing()) console.error([...lines.slice(-80), haproxy?.log().slice(-4000)].join('\n'));
  });
  const node = lab.nodes[0]!;
  const body = randomBytes(64 * MiB);
  const expected = createHash('sha256').update(body).digest('hex');
  // a paced source: 64 MiB at ~16 MiB/s, so the cut lands in the middle
  const source = await pacedSource(body, node.ip, 9180);
  t.teardown(() => source.close());
  await writeFile(lab.configPath, `dnat-ports-pair: '9100=10264,9180=10264'\n`);
  const via = `--connect-to ${node.ip}:9180:${lab.serverHost}:${lab.ports.http} http://${node.ip}:9180/big`;
  for (let i = 0; i < 80 && (await sh(`curl -s -o /dev/null -w '%{http_code}' --max-time 1 ${via}`)).stdout !== '200'; i++) await sleep(250);
  t.ok(
    lines.some((l) => l.includes('session up') && l.includes('"transport":"websocket"')),
    'the agent runs its session over WebSocket',
  );

  const file = join(lab.dir, 'download.bin');
  const download = sh(`curl -s -o ${file} -w '%{http_code}' ${via}`, 120_000);
  for (let i = 0; i < 200; i++) {
    const size = await stat(file).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 16 * MiB) break;
    await sleep(50);
  }
  // the agent's connection to haproxy's frontend, found by the agent's pid
  const sizeAtCut = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  const cut = await cutAgentConnection(lab.agents.get(node.name)!.child.pid!, hopPort);
  t.equal(cut.found, 1, "one connection of edge-a's agent to haproxy");
  t.equal(cut.code, 0, `ss -K on ${cut.local}`);

  const status = await download;
  t.equal(status.stdout, '200', 'the download finished');
  t.ok(sizeAtCut > 0 && sizeAtCut < body.length, `the cut came mid-download (${sizeAtCut} of ${body.length} bytes)`);
  const got = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  t.equal(got, expected, 'byte-identical (SHA-256) across the cut');
  t.ok(
    lines.some((l) => l.includes('connection lost: resuming the session')),
    'the agent saw the loss and resumed instead of ending the session',
  );
  t.ok(
    lines.some((l) => l.includes('"msg":"session resumed"') && l.includes('"pausedMs"')),
    "the agent logged 'session resumed'",
  );
  const resumed = lines.find((l) => l.includes('agent session resumed'));
  t.match(resumed ?? '', /"transport":"websocket"/, `the server logged the resume, over WebSocket: ${resumed?.slice(0, 240)}`);
  t.notOk(
    lines.some((l) => l.includes('"msg":"session lost"')),
    'the agent never lost its session',
  );
  t.equal(lines.filter((l) => l.includes('"msg":"session up"')).length, 1, 'no second session');
  t.ok((haproxy!.log().match(/GET \/edge-tunnel\/v1\/session HTTP\/1\.1/g) ?? []).length >= 2, 'haproxy carried both upgrades (HTTP mode)');
});
