// Agents follow the server's port config: the real agent process (no --allow-ports) against the real
// server with a watched config file. A port added to the file becomes reachable through :10264 with
// no agent restart; removing it refuses it again; a port above an agent's --allow-ports ceiling gets
// 403 AGENT_CEILING naming the flag, shows on /debug/tunnels and in a warn line; an older agent
// (a session that takes no CONFIG, as version-1 agents) is never sent one and keeps working.
// Node IPs 127.0.140.x (this suite's loopback range).
import { writeFileSync, mkdtempSync, rmSync, renameSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { connectAgent, meta, send, startServer, waitAttached, waitFor } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';
import { agentBuilt, startRealAgent } from './fixtures/real-agent.js';

const pki = await testPki();
t.setTimeout(90_000);
const skip = agentBuilt() ? false : 'apps/agent is not built (npm run build)';

/** An HTTP server on `host` answering `hello from <host>:<port>`. */
async function startTarget(t: Test, host: string): Promise<number> {
  const server = createServer((req, res) => res.end(`hello from ${host}:${(server.address() as { port: number }).port}\n`));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as { port: number }).port;
}

/** A watched config file; `write` replaces it atomically (as a ConfigMap volume update does). */
function configFile(t: Test, text: string): { file: string; write(text: string): void } {
  const dir = mkdtempSync(join(tmpdir(), 'et-port-follow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ports.yaml');
  const write = (body: string): void => {
    writeFileSync(`${file}.tmp`, body);
    renameSync(`${file}.tmp`, file);
  };
  write(text);
  return { file, write };
}

const viaHttp = (server: TestServer, host: string, port: number) => send(server.addr.http, { headers: { host: `${host}:${port}` } });

t.test('a port added to the config is reachable without restarting the agent; removed, it is refused', { skip }, async (t) => {
  const ip = '127.0.140.1';
  const port = await startTarget(t, ip);
  const cfg = configFile(t, "dnat-ports-pair: ''\n");
  const server = await startServer(t, pki, ['--config', cfg.file, '--config-poll-ms', '100']);
  const agent = await startRealAgent(t, pki, 'edge-pf-1', ip, server.addr.agent.port);
  await waitFor(() => server.handle.registry.get('edge-pf-1') !== undefined, 15_000, 'agent attached');
  const before = await viaHttp(server, ip, port);
  t.equal(before.status, 403);
  t.equal(before.headers['x-tunnel-error'], 'PORT_NOT_CONFIGURED');

  const added = performance.now();
  cfg.write(`dnat-ports-pair: '${port}=10264'\n`);
  await waitFor(
    () => agent.lines.some((l) => l['msg'] === 'server port config applied' && String(l['allowed']).includes(String(port))),
    10_000,
    'the agent applied the port',
  );
  const liveMs = performance.now() - added;
  const ok = await viaHttp(server, ip, port);
  t.equal(ok.status, 200, `reachable ${Math.round(liveMs)} ms after the file changed, same agent process`);
  t.equal(ok.body, `hello from ${ip}:${port}\n`);
  const tunnels = (await meta(server, '/debug/tunnels')).json().nodes as Array<Record<string, unknown>>;
  t.match(
    tunnels.find((n) => n['nodeName'] === 'edge-pf-1'),
    { followsPortConfig: true, portConfigRev: Number },
  );
  t.notOk(tunnels.find((n) => n['nodeName'] === 'edge-pf-1')!['refusedPorts'], 'no ceiling: nothing refused');

  const applied = (): Array<Record<string, unknown>> => agent.lines.filter((l) => l['msg'] === 'server port config applied');
  const seen = applied().length;
  cfg.write("dnat-ports-pair: ''\n");
  await waitFor(() => applied().length > seen, 10_000, 'the agent applied the removal');
  const last = applied().at(-1)!;
  t.notMatch(String(last['allowed']), String(port), 'the agent no longer allows it itself');
  const after = await viaHttp(server, ip, port);
  t.equal(after.status, 403);
  t.equal(after.headers['x-tunnel-error'], 'PORT_NOT_CONFIGURED');
});

t.test('a configured port above the agent ceiling: 403 AGENT_CEILING naming the flag, /debug/tunnels, warn lines', { skip }, async (t) => {
  const ip = '127.0.140.2';
  const allowed = await startTarget(t, ip);
  const capped = await startTarget(t, ip);
  const cfg = configFile(t, `dnat-ports-pair: '${allowed}=10264,${capped}=10264'\n`);
  const server = await startServer(t, pki, ['--config', cfg.file, '--config-poll-ms', '100']);
  const agent = await startRealAgent(t, pki, 'edge-pf-2', ip, server.addr.agent.port, ['--allow-ports', String(allowed)]);
  await waitFor(() => server.handle.registry.get('edge-pf-2')?.ports.rev !== undefined, 15_000, 'agent attached and told');
  t.equal((await viaHttp(server, ip, allowed)).status, 200, 'within the ceiling');
  const refused = await viaHttp(server, ip, capped);
  t.equal(refused.status, 403);
  t.equal(refused.headers['x-tunnel-error'], 'AGENT_CEILING', 'the caller learns which side refused');
  t.match(
    refused.body,
    /^edge-tunnel: AGENT_CEILING: .*the port is configured, but the edge node's agent does not allow it/,
    'an anonymous caller gets the fixed sentence',
  );
  const audit = server.logs.find((l) => l['reason'] === 'AGENT_CEILING');
  t.match(
    audit,
    {
      detail: new RegExp(
        `edge node edge-pf-2: port ${capped} is configured, but the node's agent refuses it: its --allow-ports ceiling \\(${allowed}\\) does not include it; add ${capped} to EDGE_TUNNEL_ALLOW_PORTS on edge-pf-2`,
      ),
    },
    'the audit line names the node, the flag and the fix',
  );
  const node = ((await meta(server, '/debug/tunnels')).json().nodes as Array<Record<string, unknown>>).find((n) => n['nodeName'] === 'edge-pf-2');
  t.match(node, { followsPortConfig: true, refusedPorts: { node: String(capped), localhost: '' } });
  t.match(
    server.logs.find((l) => l['msg'] === 'configured ports refused by the agent ceiling'),
    { level: 40, nodeName: 'edge-pf-2', refusedPorts: String(capped), reason: /EDGE_TUNNEL_ALLOW_PORTS/ },
  );
  await waitFor(() => agent.lines.some((l) => l['msg'] === 'configured ports refused by the agent ceiling'), 5_000, 'agent warn line');
  t.match(
    agent.lines.find((l) => l['msg'] === 'configured ports refused by the agent ceiling'),
    { level: 40, refusedPorts: String(capped), ceiling: 'allow-ports' },
  );

  cfg.write(`dnat-ports-pair: '${allowed}=10264'\n`);
  await waitFor(() => server.handle.registry.get('edge-pf-2')?.ports.refused === undefined, 5_000, 'refusal cleared');
  const cleared = ((await meta(server, '/debug/tunnels')).json().nodes as Array<Record<string, unknown>>).find((n) => n['nodeName'] === 'edge-pf-2');
  t.notOk(cleared!['refusedPorts'], 'the port left the config: nothing refused any more');
});

t.test('an older agent (no CONFIG in its SETTINGS) is never sent one and keeps its own allow-list', async (t) => {
  const ip = '127.0.140.3';
  const port = await startTarget(t, ip);
  const cfg = configFile(t, `dnat-ports-pair: '${port}=10264'\n`);
  const server = await startServer(t, pki, ['--config', cfg.file, '--config-poll-ms', '100']);
  // the fake agent's session takes no CONFIG: a CONFIG frame would end it with PROTOCOL_ERROR, as a version-1 agent
  const old = await connectAgent(t, pki, server, 'edge-pf-old', [ip]);
  await waitAttached(server, 'edge-pf-old', old);
  t.equal(old.session.peer?.configMax, 0, 'the agent announced no CONFIG');
  t.equal((await viaHttp(server, ip, port)).status, 200, 'configured port reachable');
  cfg.write(`dnat-ports-pair: '${port}=10264,9999=10264'\n`);
  await waitFor(() => server.handle.portConfig.current().config.httpPorts.has(9999), 5_000, 'config changed');
  t.equal((await viaHttp(server, ip, port)).status, 200, 'still reachable after a change: the session survived');
  t.equal(old.session.destroyed, false, 'no CONFIG reached it');
  const node = ((await meta(server, '/debug/tunnels')).json().nodes as Array<Record<string, unknown>>).find((n) => n['nodeName'] === 'edge-pf-old');
  t.match(node, { followsPortConfig: false });
  t.notOk(node!['portConfigRev']);
});
