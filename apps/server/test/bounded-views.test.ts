// issue 14: at 10 000 attached nodes /metrics was 679 KB and /debug/tunnels 3.4 MB per scrape. Per-node
// series only with --metrics-per-node; /debug/tunnels paged (default --debug-tunnels-limit) with
// ?node=, ?after=, ?connected= filters. A registry of fake sessions stands in for the agents.
import { once } from 'node:events';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { AgentRegistry } from '../src/agents/registry.js';
import { parseConfig } from '../src/config.js';
import { DEBUG_BAD_QUERY, createMetaServer } from '../src/meta.js';
import { ServerMetrics } from '../src/metrics.js';
import { StaticPortConfigSource } from '../src/port-config-source.js';

/** A registry with `n` attached fake sessions node-000…, RTT i ms; every 10th node then detached. */
function registryOf(n: number): AgentRegistry {
  const registry = new AgentRegistry();
  for (let i = 0; i < n; i++) {
    const nodeName = `node-${String(i).padStart(5, '0')}`;
    const session = {
      rttMs: i + 1,
      streams: new Map(),
      stats: () => ({ streams: 0, opened: 0, accepted: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, rttMs: i + 1, ageMs: 5 }),
    };
    const agent = {
      sessionId: `s${i}`,
      nodeName,
      nodeIps: [`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`],
      agentVersion: 'test',
      remoteAddress: '127.0.0.1:1',
      connectedAt: 0,
      ports: {},
      session: session as never,
    };
    registry.attach(agent);
    if (i % 10 === 9) registry.detach(agent);
  }
  return registry;
}

async function metaOf(t: Test, registry: AgentRegistry, opts: { perNode?: boolean; tunnelsLimit?: number } = {}) {
  const meta = createMetaServer({
    registry,
    metrics: new ServerMetrics(registry, { perNode: opts.perNode }),
    portConfig: new StaticPortConfigSource(),
    ready: () => true,
    tunnelsLimit: opts.tunnelsLimit,
  });
  meta.listen(0, '127.0.0.1');
  await once(meta, 'listening');
  t.teardown(() => new Promise<void>((r) => meta.close(() => r())));
  const port = (meta.address() as AddressInfo).port;
  return (path: string) =>
    new Promise<{ status: number; error?: string; body: string; json: () => any }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c) => (body += c))
          .on('end', () =>
            resolve({ status: res.statusCode!, error: res.headers['x-tunnel-error'] as string | undefined, body, json: () => JSON.parse(body) }),
          );
      })
        .on('error', reject)
        .end();
    });
}

t.test('/metrics: no node label by default, so its size does not grow with the nodes', async (t) => {
  const small = await (await metaOf(t, registryOf(10)))('/metrics');
  const large = await (await metaOf(t, registryOf(2000)))('/metrics');
  t.notMatch(large.body, /node="/, 'no per-node series');
  // the process metrics vary a little between scrapes; 2 000 per-node series were ~130 KB more
  t.ok(Math.abs(large.body.length - small.body.length) < 2_000, `10 nodes ${small.body.length} B, 2000 nodes ${large.body.length} B`);
  t.match(large.body, /edge_tunnel_session_rtt_quantile_seconds\{quantile="1"\} 1\.999\n/, 'the slowest session RTT, without a node label');
  t.match(large.body, /edge_tunnel_session_rtt_quantile_seconds\{quantile="0\.5"\} 0\.999\n/, 'the median');
  t.match(large.body, /edge_tunnel_sessions\{transport="tls"\} 1800\n/);

  const opted = await (await metaOf(t, registryOf(2000), { perNode: true }))('/metrics');
  t.equal((opted.body.match(/^edge_tunnel_session_rtt_seconds\{node="/gm) ?? []).length, 1800, '--metrics-per-node: one series per attached node');
});

t.test('/debug/tunnels: a default page, paging with after= reaches every node once', async (t) => {
  const get = await metaOf(t, registryOf(250));
  const first = (await get('/debug/tunnels')).json();
  t.equal(first.nodes.length, 100, 'default limit 100');
  t.match(first, { total: 250, connected: 225, transports: { tls: 225, websocket: 0 }, matched: 250, limit: 100, next: 'node-00099' });
  const seen: string[] = [];
  let after = '';
  for (let pages = 0; pages < 10; pages++) {
    const page = (await get(`/debug/tunnels?limit=70${after ? `&after=${after}` : ''}`)).json();
    seen.push(...page.nodes.map((n: { nodeName: string }) => n.nodeName));
    if (page.next === undefined) break;
    after = page.next;
  }
  t.equal(seen.length, 250);
  t.equal(new Set(seen).size, 250, 'no node twice');
  t.same(seen, [...seen].sort(), 'sorted by name');
  const limited = await metaOf(t, registryOf(20), { tunnelsLimit: 5 });
  t.equal((await limited('/debug/tunnels')).json().nodes.length, 5, '--debug-tunnels-limit sets the default page');
});

t.test('/debug/tunnels: ?node= and ?connected= filters', async (t) => {
  const get = await metaOf(t, registryOf(250));
  const two = (await get('/debug/tunnels?node=NODE-00007,node-00009&node=nope')).json();
  t.same(
    two.nodes.map((n: { nodeName: string; connected: boolean }) => [n.nodeName, n.connected]),
    [
      ['node-00007', true],
      ['node-00009', false],
    ],
  );
  t.same(two.unknown, ['nope']);
  t.equal(two.matched, 2);
  t.equal(two.nodes[0].rttMs, 8);
  const off = (await get('/debug/tunnels?connected=false&limit=1000')).json();
  t.equal(off.nodes.length, 25);
  t.ok(off.nodes.every((n: { connected: boolean }) => !n.connected));
});

t.test('/debug/tunnels: a query it cannot answer is 400 DEBUG_BAD_QUERY naming the parameter', async (t) => {
  const get = await metaOf(t, registryOf(3));
  for (const [q, said] of [
    ['limit=0', /limit must be/],
    ['limit=1001', /limit must be/],
    ['limit=x', /limit must be/],
    ['connected=maybe', /connected must be/],
    ['page=2', /unknown parameter "page"/],
  ] as const) {
    const r = await get(`/debug/tunnels?${q}`);
    t.equal(r.status, 400, q);
    t.equal(r.error, DEBUG_BAD_QUERY, q);
    t.match(r.body, said, q);
  }
});

t.test('flags: --metrics-per-node, --debug-tunnels-limit, --upstream-pool-size, --upstream-idle-timeout-ms', async (t) => {
  const base = ['--cert', 'c', '--key', 'k', '--agent-ca', 'a', '--require-caller-cert=false'];
  const parsed = parseConfig(base);
  t.match(!parsed.help && parsed.config, { metricsPerNode: false, debugTunnelsLimit: 100, upstreamPoolSize: 8, upstreamIdleTimeoutMs: 30_000 });
  const set = parseConfig([...base, '--metrics-per-node', '--debug-tunnels-limit', '7', '--upstream-pool-size', '0', '--upstream-idle-timeout-ms', '500']);
  t.match(!set.help && set.config, { metricsPerNode: true, debugTunnelsLimit: 7, upstreamPoolSize: 0, upstreamIdleTimeoutMs: 500 });
  t.throws(() => parseConfig([...base, '--upstream-pool-size', '2000']), /--upstream-pool-size/);
  t.throws(() => parseConfig([...base, '--debug-tunnels-limit', '0']), /--debug-tunnels-limit/);
});
