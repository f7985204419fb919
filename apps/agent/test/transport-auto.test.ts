// --transport auto: TLS first, WebSocket in the same attempt when the TLS dial fails the way a
// network that passes only HTTP(S) fails it: a real tinyproxy refusing CONNECT to the agent port
// (403), an agent port nobody answers, a TLS handshake reset after the ClientHello (an inspecting
// firewall). The choice is logged once with its reason, kept for later redials, and counted by
// transport; failures WebSocket would share (407) do not fall back.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { AgentConfig } from '../src/config.js';
import { ConnectResult } from '../src/metrics.js';
import { proxyConfig } from '../src/proxy-config.js';
import { ProxyFailure } from '../src/proxy-connect.js';
import { start } from '../src/start.js';
import { fallbackFor } from '../src/transport-choice.js';
import { agentConfig, captureLogger, httpGet, waitFor, type LogLine } from './fixtures/agent.js';
import { closedPort } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';
import { FakeServer } from './fixtures/server.js';
import { HAVE_TINYPROXY, Tinyproxy } from './fixtures/tinyproxy.js';

const skip = HAVE_TINYPROXY ? false : 'tinyproxy not installed (apt-get install tinyproxy)';

t.test('which TLS failures fall back to WebSocket', async (t) => {
  const f = (kind: ConnectResult, code: string) => fallbackFor({ kind, code, reason: '' });
  t.equal(f(ConnectResult.PROXY_ERROR, ProxyFailure.FORBIDDEN), 'proxy_refused_connect', '403');
  t.equal(f(ConnectResult.PROXY_ERROR, ProxyFailure.REFUSED), 'proxy_refused_connect', '405 and other refusals');
  t.equal(f(ConnectResult.PROXY_ERROR, ProxyFailure.BAD_GATEWAY), 'proxy_refused_connect', '502: the proxy cannot reach the agent port');
  t.equal(f(ConnectResult.UNREACHABLE, 'ECONNREFUSED'), 'agent_port_blocked');
  t.equal(f(ConnectResult.UNREACHABLE, 'ETIMEDOUT'), 'agent_port_blocked');
  t.equal(f(ConnectResult.UNREACHABLE, 'handshake_closed'), 'tls_blocked');
  t.equal(f(ConnectResult.UNREACHABLE, 'handshake_timeout'), 'tls_blocked');
  t.equal(f(ConnectResult.TLS_ERROR, 'DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls_intercepted');
  t.equal(f(ConnectResult.TLS_ERROR, 'ERR_SSL_WRONG_VERSION_NUMBER'), 'tls_blocked', 'an HTTP block page on the agent port');
  for (const [kind, code] of [
    [ConnectResult.PROXY_ERROR, ProxyFailure.AUTH],
    [ConnectResult.PROXY_ERROR, ProxyFailure.UNREACHABLE],
    [ConnectResult.PROXY_ERROR, ProxyFailure.TLS],
    [ConnectResult.PROXY_ERROR, ProxyFailure.AUTH_FILE],
    [ConnectResult.UNREACHABLE, 'ENOTFOUND'],
    [ConnectResult.TLS_ERROR, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'],
    [ConnectResult.TLS_ERROR, 'tls_error'],
    [ConnectResult.HELLO_ERROR, 'hello_error'],
    [ConnectResult.REFUSED, 'refused'],
  ] as const) {
    t.equal(f(kind, code), undefined, `${kind} ${code}: fails over WebSocket too`);
  }
});

interface Run {
  server: FakeServer;
  lines: LogLine[];
  config: AgentConfig;
  agent: Awaited<ReturnType<typeof start>>;
}

/** A FakeServer on TLS and WebSocket, and an auto agent; `over` may point server at a blocked port. */
async function autoAgent(t: Test, over: (tlsPort: number, wsPort: number) => Partial<AgentConfig> = () => ({})): Promise<Run> {
  const pki = await testPki();
  const server = new FakeServer(pki);
  const tlsPort = await server.listen();
  const wsPort = await server.listenWs();
  const { logger, lines } = captureLogger();
  const config = agentConfig(pki, tlsPort, { transport: 'auto', wsUrl: new URL(`wss://127.0.0.1:${wsPort}/edge-tunnel/v1/session`), ...over(tlsPort, wsPort) });
  const agent = await start(config, logger);
  t.teardown(async () => {
    await agent.close();
    await server.close();
  });
  return { server, lines, config, agent };
}

const line = (lines: LogLine[], msg: string) => lines.find((l) => l.msg === msg);

t.test('a proxy that refuses CONNECT to the agent port (403): WebSocket through it, chosen once, kept on redial', { skip }, async (t) => {
  const pki = await testPki();
  const server = new FakeServer(pki);
  const tlsPort = await server.listen();
  const wsPort = await server.listenWs();
  const proxy = new Tinyproxy({ connectPorts: [wsPort] });
  await proxy.start();
  t.teardown(() => proxy.stop());
  const { logger, lines } = captureLogger();
  const config = agentConfig(pki, tlsPort, {
    transport: 'auto',
    wsUrl: new URL(`wss://127.0.0.1:${wsPort}/edge-tunnel/v1/session`),
    proxy: proxyConfig({ proxy: `http://127.0.0.1:${proxy.port}`, timeoutMs: 5000 }, {})!,
  });
  const agent = await start(config, logger);
  t.teardown(async () => {
    await agent.close();
    await server.close();
  });
  await server.nextSession();
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.match(
    line(lines, 'connect failed'),
    { level: 40, code: 'proxy_forbidden', transport: 'tls', reason: new RegExp(`forbids CONNECT 127.0.0.1:${tlsPort} \\(403`) },
    'the refused TLS dial, as a warning',
  );
  t.match(line(lines, 'transport auto: TLS failed, trying WebSocket'), { because: 'proxy_refused_connect', url: config.wsUrl.href });
  t.match(line(lines, 'transport chosen: kept for this replica until the agent restarts'), {
    transport: 'websocket',
    reason: new RegExp(
      `^TLS to 127\\.0\\.0\\.1:${tlsPort} failed: the proxy refused CONNECT to the agent port \\(.*403.*\\); WebSocket to wss://127\\.0\\.0\\.1:${wsPort}/edge-tunnel/v1/session works$`,
    ),
  });
  t.same(proxy.connects(), [`127.0.0.1:${tlsPort}`, `127.0.0.1:${wsPort}`], 'both dials went through the proxy, TLS first');
  t.same(server.transports, ['websocket']);
  t.same(
    agent.status().sessions.map((s) => s.transport),
    ['websocket'],
  );
  const metrics = (await httpGet(agent.metaAddress.port, '/metrics')).body;
  t.match(metrics, /edge_tunnel_agent_connects_total\{result="proxy_error",transport="tls"\} 1/);
  t.match(metrics, /edge_tunnel_agent_connects_total\{result="ok",transport="websocket"\} 1/);
  t.match(metrics, /edge_tunnel_agent_sessions\{transport="websocket"\} 1/);

  for (const s of server.sessions) s.destroy();
  await waitFor(() => server.sessions.length === 2 && agent.status().connected, 10_000, 'the redial');
  t.same(proxy.connects().slice(2), [`127.0.0.1:${wsPort}`], 'the redial went straight to WebSocket (remembered)');
  t.equal(lines.filter((l) => l.msg.startsWith('transport chosen')).length, 1, 'chosen once');
});

t.test('TLS that works is chosen and said so', async (t) => {
  const { server, lines, agent } = await autoAgent(t);
  await server.nextSession();
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.match(line(lines, 'transport chosen: kept for this replica until the agent restarts'), { transport: 'tls', reason: /works \(auto tries TLS first\)/ });
  t.same(server.transports, ['tls']);
  t.notOk(line(lines, 'connect failed'));
});

t.test('an agent port nobody answers: agent_port_blocked, then WebSocket', async (t) => {
  const blocked = await closedPort('127.0.0.1');
  const { server, lines, agent } = await autoAgent(t, () => ({ server: { host: '127.0.0.1', port: blocked } }));
  await server.nextSession();
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.match(line(lines, 'transport auto: TLS failed, trying WebSocket'), { because: 'agent_port_blocked', reason: /ECONNREFUSED/ });
  t.same(server.transports, ['websocket']);
});

t.test('a firewall that resets TLS after the ClientHello: tls_blocked, then WebSocket', async (t) => {
  const firewall = createServer((s) => s.once('data', () => s.resetAndDestroy())).listen(0, '127.0.0.1');
  await once(firewall, 'listening');
  t.teardown(() => firewall.close());
  const port = (firewall.address() as AddressInfo).port;
  const { server, lines, agent } = await autoAgent(t, () => ({ server: { host: '127.0.0.1', port } }));
  await server.nextSession();
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.match(line(lines, 'transport auto: TLS failed, trying WebSocket'), { because: 'tls_blocked', reason: /the TLS handshake was reset, closed or timed out/ });
  t.same(server.transports, ['websocket']);
});

t.test('407 does not fall back: the fix is the credentials, WebSocket would meet the same proxy', { skip }, async (t) => {
  const proxy = new Tinyproxy({ auth: { user: 'edge', password: 'pw-407-x' } });
  await proxy.start();
  t.teardown(() => proxy.stop());
  const { lines } = await autoAgent(t, () => ({ proxy: proxyConfig({ proxy: `http://127.0.0.1:${proxy.port}`, timeoutMs: 5000 }, {})! }));
  await waitFor(() => lines.filter((l) => l.msg === 'connect failed').length >= 2, 5000, 'two failed dials');
  t.match(line(lines, 'connect failed'), { level: 50, code: 'proxy_auth', transport: 'tls' });
  t.notOk(line(lines, 'transport auto: TLS failed, trying WebSocket'));
  t.ok(
    lines.filter((l) => l.msg === 'connect failed').every((l) => l.transport === 'tls'),
    'every dial stayed TLS',
  );
});
