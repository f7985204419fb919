import t from 'tap';
import { httpGet, waitFor } from './fixtures/agent.js';
import { collect, connected, setup, target } from './fixtures/harness.js';
import { NODE_IP } from './fixtures/pki.js';

t.test('/healthz, and /readyz flips with the session', async (t) => {
  const { agent, server } = await setup(t, { mode: { kind: 'drop' } });
  const port = agent.metaAddress.port;
  t.same(await httpGet(port, '/healthz'), { status: 200, body: 'ok\n' });
  await waitFor(() => server.connections >= 1, 2000, 'a dial');
  const down = await httpGet(port, '/readyz');
  t.equal(down.status, 503);
  t.match(down.body, /^not ready: /);
  server.mode = { kind: 'accept' };
  const session = await server.nextSession();
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.same(await httpGet(port, '/readyz'), { status: 200, body: 'ok\n' });
  server.mode = { kind: 'drop' };
  session.destroy();
  await waitFor(() => !agent.status().connected, 2000, 'disconnected');
  const again = await httpGet(port, '/readyz');
  t.equal(again.status, 503);
  t.match(again.body, /session to 127\.0\.0\.1:\d+ closed|unreachable|closed/);
  t.equal((await httpGet(port, '/nope')).status, 404);
});

t.test('/metrics names every metric and counts streams', async (t) => {
  const tgt = await target(t, (s) => s.end('x'));
  const { agent, session } = await connected(t, { config: { allowPorts: [{ lo: tgt.port, hi: tgt.port }] } });
  const ok = session.open({ host: NODE_IP, port: tgt.port, kind: 'http', traceId: 'a' });
  ok.end('yy');
  await collect(ok);
  const refused = session.open({ host: '127.0.0.9', port: 1, kind: 'http', traceId: 'b' });
  await new Promise((r) => refused.once('error', r));
  await session.ping();
  const { status, body } = await httpGet(agent.metaAddress.port, '/metrics');
  t.equal(status, 200);
  for (const name of [
    'edge_tunnel_agent_session_up 1',
    'edge_tunnel_agent_connects_total{result="ok",transport="tls"} 1',
    'edge_tunnel_agent_streams_total{result="accepted"} 1',
    'edge_tunnel_agent_streams_total{result="refused"} 1',
    'edge_tunnel_agent_streams_active',
    'edge_tunnel_agent_bytes_total{direction="in"} 2',
    'edge_tunnel_agent_bytes_total{direction="out"} 1',
    'edge_tunnel_agent_session_rtt_seconds',
    'edge_tunnel_agent_dial_duration_seconds_bucket',
  ]) {
    t.ok(body.includes(name), name);
  }
});

t.test('close() drains an active stream up to the deadline, then returns', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const { agent, session } = await connected(t, { config: { drainTimeoutMs: 600, allowPorts: [{ lo: echo.port, hi: echo.port }] } });
  const stream = session.open({ host: NODE_IP, port: echo.port, kind: 'http', traceId: 'c' });
  stream.write('a');
  await new Promise((r) => stream.once('data', r));
  const goaway = new Promise((r) => session.once('goaway', r));
  const err = new Promise<{ wireCode?: string }>((r) => stream.once('error', r));
  const started = performance.now();
  const closing = agent.close();
  await goaway;
  stream.write('b');
  t.equal(String(await new Promise((r) => stream.once('data', r))), 'b', 'the stream still relays while draining');
  await closing;
  const took = performance.now() - started;
  t.ok(took >= 550 && took < 3000, `close took ${Math.round(took)} ms (deadline 600)`);
  t.match(await err, { wireCode: 'GOING_AWAY' });
});

t.test('close() returns early once streams finish', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const { agent, session } = await connected(t, { config: { drainTimeoutMs: 5000, allowPorts: [{ lo: echo.port, hi: echo.port }] } });
  const stream = session.open({ host: NODE_IP, port: echo.port, kind: 'http', traceId: 'd' });
  const back = collect(stream);
  stream.write('x');
  await new Promise((r) => stream.once('data', r)); // the agent took the stream before GOAWAY
  const started = performance.now();
  const closing = agent.close();
  setTimeout(() => stream.end('y'), 100);
  t.equal((await back).toString(), 'xy');
  await closing;
  t.ok(performance.now() - started < 2500, 'did not wait for the 5 s deadline');
  t.equal(agent.status().connected, false);
});
