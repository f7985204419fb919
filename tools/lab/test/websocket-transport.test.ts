// Agents that reach the server only over WebSocket through an L7 hop: Debian's haproxy in `mode http`
// terminates the agents' TLS (so no client certificate crosses it) and re-encrypts to the server's
// --agent-ws-addr. The agents are started with --transport websocket; every printed lab command
// works through them, /debug/tunnels says websocket, haproxy's log shows the upgrade it carried, and
// an agent whose certificate the agent CA did not issue is refused with the reason on both sides.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCa, issueAgentCert, writePemFiles } from '@edge-tunnel/pki';
import { freePort, startLab } from '../src/index.js';
import { sh } from './fixtures/lab.js';
import { startHaproxy, wsHop, type Haproxy } from './fixtures/haproxy.js';

const haveHaproxy = (await sh('command -v haproxy')).code === 0;
const haveCurl = (await sh('command -v curl')).code === 0;
const skip = !haveHaproxy ? 'haproxy not installed (apt-get install haproxy)' : !haveCurl ? 'curl not installed' : false;

const lines: string[] = [];
let haproxy: Haproxy | undefined;
const wsPort = await freePort();
const hopPort = await freePort();
const SUBNET = 245;
const lab = skip ? undefined : await startWithHop();
t.teardown(async () => {
  await lab?.close();
  haproxy?.stop();
});

async function startWithHop() {
  // the lab writes its certificates before it starts the agents: start haproxy from them at once
  const labPromise = startLab({
    nodes: [
      { name: 'edge-a', ip: `127.0.${SUBNET}.1` },
      { name: 'edge-b', ip: `127.0.${SUBNET}.2` },
    ],
    ports: { agent: await freePort(), https: await freePort(), http: await freePort(), meta: await freePort(), connect: await freePort(), exporter: 9100 },
    agentAllowPorts: [9100],
    pretty: false,
    log: (line) => lines.push(line),
    serverArgs: ['--agent-ws-addr', `127.0.0.1:${wsPort}`],
    agentArgs: ['--transport', 'websocket', '--ws-url', `wss://127.0.0.1:${hopPort}/edge-tunnel/v1/session`, '--backoff-max-ms', '500'],
    onCerts: async (dir: string) => {
      haproxy = await startHaproxy(dir, 'haproxy', await wsHop(dir, hopPort, wsPort));
    },
  });
  return labPromise;
}

t.test('every printed command works with both agents on WebSocket behind haproxy', { skip }, async (t) => {
  const tunnels = JSON.parse((await sh(`curl -s http://127.0.0.1:${lab!.ports.meta}/debug/tunnels`)).stdout) as {
    transports: unknown;
    nodes: Array<{ nodeName: string; transport: string }>;
  };
  t.same(tunnels.nodes.map((n) => [n.nodeName, n.transport]).sort(), [
    ['edge-a', 'websocket'],
    ['edge-b', 'websocket'],
  ]);
  t.same(tunnels.transports, { tls: 0, websocket: 2 }, 'sessions by transport, whole table');
  const expectations: Array<[RegExp, RegExp]> = [
    [/stats\/summary'?$/, /"nodeName":"edge-/],
    [/\/pods$/, /"kind":"PodList"/],
    [/9100\/metrics$/, /node_exporter_scrapes_total/],
    [/healthz$/, /^ok/],
    [/metrics\/resource$/, /^container_cpu_usage_seconds_total\{container="app",namespace="default",pod="demo"\} [\d.e+-]+ \d+$/m],
    [/9999\/$/, /403 Forbidden[\s\S]*PORT_NOT_CONFIGURED/],
    [/debug\/tunnels$/, /"edge-a"[\s\S]*"edge-b"/],
  ];
  for (const { title, command } of lab!.commands.filter((c) => !c.command.includes('follow=true'))) {
    const expected = expectations.find(([cmd]) => cmd.test(command))?.[1];
    if (!expected) continue;
    t.match((await sh(command)).stdout, expected, title);
  }
  t.match(haproxy!.log(), /GET \/edge-tunnel\/v1\/session HTTP\/1\.1/, 'haproxy carried the upgrades in HTTP mode');
  const metrics = (await sh(`curl -s http://127.0.0.1:${lab!.ports.meta}/metrics`)).stdout;
  t.match(metrics, /^edge_tunnel_sessions\{transport="websocket"\} 2$/m, 'sessions by transport');
  t.match(metrics, /^edge_tunnel_sessions\{transport="tls"\} 0$/m);
  t.match(metrics, /^edge_tunnel_session_events_total\{event="attached",transport="websocket"\} 2$/m);
  t.match(metrics, /^edge_tunnel_streams_total\{result="opened",transport="websocket"\} [1-9]\d*$/m, "the commands' streams, counted as websocket");
  t.match(metrics, /^edge_tunnel_stream_bytes_total\{direction="in",transport="websocket"\} [1-9]\d*$/m);
  t.notMatch(metrics, /^edge_tunnel_streams_total\{result="opened",transport="tls"\}/m, 'none as tls');
  const agentMetrics = (await sh(`curl -s http://127.0.${SUBNET}.1:10266/metrics`)).stdout;
  t.match(agentMetrics, /^edge_tunnel_agent_connects_total\{result="ok",transport="websocket"\} [1-9]/m, 'the agent counts its websocket dials');
  t.match(agentMetrics, /^edge_tunnel_agent_sessions\{transport="websocket"\} 1$/m);
});

t.test('an agent whose certificate another CA issued is refused, and says why', { skip }, async (t) => {
  const dir = lab!.certs.dir;
  const other = await createCa({ commonName: 'not-the-agent-ca' });
  await writePemFiles(dir, 'agent-forged', await issueAgentCert(other, 'edge-a', [`127.0.${SUBNET}.1`]));
  const out: string[] = [];
  const script = new URL('../../../apps/agent/dist/main.js', import.meta.url).pathname;
  const forged = spawn(
    process.execPath,
    [
      script,
      '--server',
      `127.0.0.1:${lab!.ports.agent}`,
      '--node-name',
      'edge-a',
      '--node-ip',
      `127.0.${SUBNET}.1`,
      '--cert',
      join(dir, 'agent-forged.crt'),
      '--key',
      join(dir, 'agent-forged.key'),
      '--ca',
      join(dir, 'ca.crt'),
      '--meta-addr',
      `127.0.${SUBNET}.9:10266`,
      '--transport',
      'websocket',
      '--ws-url',
      `wss://127.0.0.1:${hopPort}/edge-tunnel/v1/session`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  forged.stdout!.on('data', (c: Buffer) => out.push(c.toString()));
  t.teardown(() => forged.kill('SIGKILL'));
  const deadline = Date.now() + 10_000;
  while (!out.join('').includes('connect failed') && Date.now() < deadline) await sleep(50);
  t.match(out.join(''), /"code":"tls_error".*refused our certificate proof: the agent certificate is not signed by the agent CA/);
  t.ok(
    lines.some((l) => l.includes('agent rejected: certificate proof') && l.includes('not signed by the agent CA')),
    'the server logs the refusal',
  );
  const tunnels = JSON.parse((await sh(`curl -s http://127.0.0.1:${lab!.ports.meta}/debug/tunnels`)).stdout) as {
    nodes: Array<{ nodeName: string; transport: string }>;
  };
  t.equal(tunnels.nodes.find((n) => n.nodeName === 'edge-a')?.transport, 'websocket', "edge-a's real session stays");
});
