import t from 'tap';
import { testPki } from './fixtures/pki.js';
import { meta, send, startNode, startServer } from './fixtures/harness.js';

const pki = await testPki();

t.test('HTTP listener reaches the kubelet read-only port', async (t) => {
  const server = await startServer(t, pki);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');

  const byIp = await send(server.addr.http, { path: '/pods', headers: { host: '127.0.20.1:10255' } });
  t.equal(byIp.status, 200, 'by Host nodeIP:10255');
  t.equal(JSON.parse(byIp.body).kind, 'PodList');
  t.same(node.agent.opens.at(-1), { host: '127.0.20.1', port: 10255, kind: 'http', traceId: node.agent.opens.at(-1)!.traceId, compress: true });

  const byName = await send(server.addr.http, { path: '/healthz', headers: { host: 'EDGE-A:10255' } });
  t.equal(byName.status, 200, 'by Host nodeName:10255 (any case)');
  t.equal(byName.body, 'ok');

  const byHeader = await send(server.addr.http, { path: '/healthz', headers: { host: 'tunnel.example:80', 'x-tunnel-proxy-dest': '127.0.20.1:10255' } });
  t.equal(byHeader.status, 200, 'by X-Tunnel-Proxy-Dest');
  t.equal(node.agent.opens.length, 1, 'three caller connections, one after another: one pooled upstream stream (upstream-pool.ts)');

  const audit = server.logs.lines.filter((l) => l['msg'] === 'audit');
  t.equal(audit.length, 3, 'one audit line per request');
  t.match(audit[0], {
    level: 30,
    listener: 'http',
    caller: /^127\.0\.0\.1:\d+$/,
    nodeName: 'edge-a',
    port: 10255,
    method: 'GET',
    path: '/pods',
    status: 200,
    bytesIn: 0,
    bytesOut: byIp.body.length,
    durationMs: Number,
    traceId: /^[0-9a-f]{16}$/,
  });
  t.equal(audit[0]!['traceId'], node.agent.opens[0]!.traceId, 'the trace id travels to the agent');

  const tunnels = (await meta(server, '/debug/tunnels')).json();
  t.match(tunnels.nodes, [
    { nodeName: 'edge-a', nodeIps: ['127.0.20.1'], connected: true, sessionId: String, ageMs: Number, openStreams: Number, bytesIn: Number, bytesOut: Number },
  ]);
  const metrics = (await meta(server, '/metrics')).body;
  t.match(metrics, /edge_tunnel_sessions\{transport="tls"\} 1/);
  t.match(metrics, /edge_tunnel_sessions\{transport="websocket"\} 0/);
  t.match(metrics, /edge_tunnel_streams_total\{result="opened",transport="tls"\} 1/);
  t.match(metrics, /edge_tunnel_upstream_connections_total\{result="reused"\} 2/);
  t.match(metrics, /edge_tunnel_request_duration_seconds_count\{listener="http",status="200"\} 3/);
  t.equal((await meta(server, '/healthz')).status, 200);
  t.equal((await meta(server, '/readyz')).status, 200);
});

t.test('misses answer fast with the right status and a reason', async (t) => {
  const server = await startServer(t, pki);
  await startNode(t, pki, server, 'edge-a', '127.0.20.1', { refuse: (m) => (m.port === 10255 ? 'port 10255 is closed by policy on edge-a' : undefined) });
  server.handle.registry.table.upsertNode('edge-gone', ['127.0.20.9']);

  const unknown = await send(server.addr.http, { headers: { host: '127.0.20.77:10255' } });
  t.equal(unknown.status, 502, 'unknown node');
  t.ok(unknown.ms < 100, `unknown node answered in ${unknown.ms.toFixed(1)} ms`);
  t.match(unknown.body, /NODE_UNKNOWN.*127\.0\.20\.77.*10255/);
  t.equal(unknown.headers['x-tunnel-error'], 'NODE_UNKNOWN');

  const noAgent = await send(server.addr.http, { headers: { host: 'edge-gone:10255' } });
  t.equal(noAgent.status, 503, 'known node without agent');
  t.ok(noAgent.ms < 100, `no tunnel answered in ${noAgent.ms.toFixed(1)} ms`);
  t.match(noAgent.body, /NO_TUNNEL: edge-gone:10255: its edge node has no connected tunnel agent/, 'names what was sent');

  const notConfigured = await send(server.addr.http, { headers: { host: '127.0.20.1:9100' } });
  t.equal(notConfigured.status, 403, 'port not configured');
  t.match(notConfigured.body, /PORT_NOT_CONFIGURED.*9100.*dnat-ports-pair/);

  const wrongChannel = await send(server.addr.http, { headers: { host: '127.0.20.1:10250' } });
  t.equal(wrongChannel.status, 421, 'HTTPS port on the HTTP listener');

  const refused = await send(server.addr.http, { headers: { host: '127.0.20.1:10255' } });
  t.equal(refused.status, 403, 'agent refusal');
  // :10264 takes no credentials: the agent's reason (it names the node and its policy) is for the audit line only
  t.match(refused.body, /REFUSED: 127\.0\.20\.1:10255: the edge node's agent refused the target \(trace \w+/);
  t.notMatch(refused.body, /edge-a|policy/);

  const garbage = await send(server.addr.http, { headers: { host: 'not a host' } });
  t.equal(garbage.status, 400);
  t.match(garbage.body, /BAD_DESTINATION/);

  const audits = server.logs.lines.filter((l) => l['msg'] === 'audit');
  t.same(
    audits.map((a) => a['status']),
    [502, 503, 403, 421, 403, 400],
  );
  t.equal(audits[4]!['reason'], 'REFUSED');
  t.match(audits[4]!['detail'], /port 10255 is closed by policy on edge-a/, "the agent's reason is on the audit line");
  t.match(audits[1]!['detail'], /edge node edge-gone has no connected tunnel agent/);
});

t.test('dial failure is 502; the agent reason is on the audit line, not in the body', async (t) => {
  const server = await startServer(t, pki);
  await startNode(t, pki, server, 'edge-a', '127.0.20.1', { portMap: { 10255: 1 } });
  const r = await send(server.addr.http, { headers: { host: '127.0.20.1:10255' } });
  t.equal(r.status, 502);
  t.match(r.body, /CONNECT_FAILED: 127\.0\.20\.1:10255: the edge node's agent could not connect to the target/);
  t.notMatch(r.body, /:1\b/, 'not the port the agent really dialled');
  t.match((await server.logs.waitFor((l) => l['msg'] === 'audit' && l['reason'] === 'CONNECT_FAILED'))['detail'], /dial 127\.0\.20\.1:1/);
});

t.test('200 concurrent requests across two nodes all succeed', async (t) => {
  const server = await startServer(t, pki);
  const nodes = [await startNode(t, pki, server, 'edge-a', '127.0.20.1'), await startNode(t, pki, server, 'edge-b', '127.0.20.2')];
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => send(server.addr.http, { path: '/pods', headers: { host: `${nodes[i % 2]!.ip}:10255` } })),
  );
  t.equal(replies.filter((r) => r.status === 200).length, 200);
  t.ok(
    replies.every((r, i) => JSON.parse(r.body).items[0].spec.nodeName === nodes[i % 2]!.nodeName),
    'each answered by its own node',
  );
  for (const node of nodes)
    t.ok(
      node.agent.opens.length >= 1 && node.agent.opens.length <= 100,
      `${node.nodeName}: ${node.agent.opens.length} streams for 100 requests (pooled, at most one per request)`,
    );
  const idle = Number(/edge_tunnel_upstream_idle_connections (\d+)/.exec((await meta(server, '/metrics')).body)?.[1]);
  t.ok(idle >= 2 && idle <= 16, `${idle} idle upstream connections kept: at most --upstream-pool-size (8) per node and port`);
});
