import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import type { AgentConfig } from '../src/config.js';
import type { Credentials } from '../src/tls.js';
import { connectServer } from '../src/tls.js';
import { httpGet, waitFor } from './fixtures/agent.js';
import { closedPort, setup } from './fixtures/harness.js';

/** Wraps the real TLS connect to count dials the agent has open at once. */
function countingConnect() {
  const c = { now: 0, max: 0, total: 0 };
  const connect = (config: AgentConfig, creds: Credentials) => {
    const socket = connectServer(config, creds);
    c.now += 1;
    c.total += 1;
    c.max = Math.max(c.max, c.now);
    socket.once('close', () => (c.now -= 1));
    return socket;
  };
  return { c, connect };
}

t.test('server drops the connection: reconnects with growing, bounded backoff, one dial at a time', async (t) => {
  const { c, connect } = countingConnect();
  const { server, lines, agent } = await setup(t, {
    mode: { kind: 'drop' },
    config: { backoffBaseMs: 20, backoffMaxMs: 200 },
    deps: { random: () => 0.999, connectServer: connect },
  });
  await waitFor(() => server.connections >= 7, 8000, '7 connections');
  const delays = lines.filter((l) => l.msg === 'reconnecting').map((l) => l.delayMs as number);
  t.same(delays.slice(0, 6), [19, 39, 79, 159, 199, 199], 'full jitter ceilings double from base and stop at max');
  const gaps = server.arrivals.slice(1, 6).map((a, i) => a - server.arrivals[i]!);
  gaps.forEach((gap, i) => t.ok(gap >= delays[i]! - 2, `gap ${Math.round(gap)} ms >= delay ${delays[i]} ms`));
  t.equal(c.max, 1, 'never more than one dial in flight (agent side)');
  t.equal(server.maxOpen, 1, 'never more than one TLS connection open (server side)');
  t.ok(agent.status().attempts >= 7);
  t.equal(agent.status().connected, false);

  // a successful hello resets the backoff
  server.mode = { kind: 'accept' };
  const session = await server.nextSession();
  await waitFor(() => agent.status().connected, 2000, 'connected');
  const before = lines.length;
  session.destroy();
  await waitFor(() => lines.slice(before).find((l) => l.msg === 'reconnecting'), 2000, 'reconnect');
  t.match(
    lines.slice(before).find((l) => l.msg === 'reconnecting'),
    { delayMs: 19, attempt: 1 },
  );
  t.match(
    lines.slice(before).find((l) => l.msg === 'session lost'),
    { level: 40, reason: /closed/ },
  );
  await server.nextSession();
  t.equal(c.max, 1);
});

t.test('random jitter stays within [0, ceiling)', async (t) => {
  const { server, lines } = await setup(t, { mode: { kind: 'drop' }, config: { backoffBaseMs: 10, backoffMaxMs: 80 } });
  await waitFor(() => server.connections >= 8, 8000, '8 connections');
  const logged = lines.filter((l) => l.msg === 'reconnecting');
  for (const l of logged) {
    const attempt = (l.attempt as number) - 1;
    t.ok((l.delayMs as number) < Math.min(80, 10 * 2 ** attempt), `delay ${l.delayMs} for attempt ${attempt}`);
  }
});

t.test('server GOAWAY with a refusal: logged at error with its reason, retried, /readyz says why', async (t) => {
  const reason = 'certificate names edge-1 but hello claims edge-2';
  const { server, lines, agent } = await setup(t, { mode: { kind: 'refuse', code: 'REFUSED', reason } });
  await waitFor(() => server.connections >= 3, 8000, 'retries');
  const refused = lines.find((l) => l.msg === 'refused by server');
  t.match(refused, { level: 50, code: 'REFUSED', reason, nodeName: 'edge-1' });
  const delays = lines.filter((l) => l.msg === 'reconnecting').map((l) => l.attempt);
  t.same(delays.slice(0, 2), [1, 2], 'a refused hello does not reset the backoff');
  const ready = await httpGet(agent.metaAddress.port, '/readyz');
  t.equal(ready.status, 503);
  t.match(ready.body, `refused by server: REFUSED ${reason}`);
  const metrics = await httpGet(agent.metaAddress.port, '/metrics');
  t.match(metrics.body, /edge_tunnel_agent_connects_total\{result="refused",transport="tls"\} [1-9]/);
});

t.test('TLS and network failures are logged with a clear reason', async (t) => {
  const pki = (await import('./fixtures/pki.js')).testPki;
  const wrongCa = await setup(t, { config: { caFile: (await pki()).otherCaFile } });
  await waitFor(() => wrongCa.lines.find((l) => l.msg === 'connect failed'), 5000, 'tls failure');
  t.match(
    wrongCa.lines.find((l) => l.msg === 'connect failed'),
    { level: 50, code: 'tls_error', reason: /server certificate rejected \(check --ca and --server-name\)/ },
  );

  const wrongName = await setup(t, { config: { serverName: 'not-the-server.example' } });
  await waitFor(() => wrongName.lines.find((l) => l.msg === 'connect failed'), 5000, 'name failure');
  t.match(
    wrongName.lines.find((l) => l.msg === 'connect failed'),
    { level: 50, reason: /server certificate rejected.*ERR_TLS_CERT_ALTNAME_INVALID/ },
  );

  const port = await closedPort('127.0.0.1');
  const down = await setup(t, { config: { server: { host: '127.0.0.1', port } } });
  await waitFor(() => down.lines.find((l) => l.msg === 'connect failed'), 5000, 'unreachable');
  t.match(
    down.lines.find((l) => l.msg === 'connect failed'),
    { level: 40, code: 'unreachable', reason: new RegExp(`server 127.0.0.1:${port} unreachable: ECONNREFUSED`) },
  );
});

t.test('a server that never finishes the handshake: timeout, still one dial at a time', async (t) => {
  const tcp = createServer((s) => {
    s.on('error', () => {});
    s.resume();
    open += 1;
    max = Math.max(max, open);
    total += 1;
    s.once('close', () => (open -= 1));
  });
  let open = 0;
  let max = 0;
  let total = 0;
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  t.teardown(() => tcp.close());
  const port = (tcp.address() as AddressInfo).port;
  const { lines } = await setup(t, { config: { server: { host: '127.0.0.1', port }, keepaliveIntervalMs: 100, keepaliveTimeoutMs: 200 } });
  await waitFor(() => total >= 3, 5000, '3 dials');
  t.equal(max, 1, 'one connection at a time');
  t.match(
    lines.find((l) => l.msg === 'connect failed'),
    { reason: /no TLS handshake within 200 ms/ },
  );
});

t.test('a lost session: the first redial is spread over --reconnect-spread-ms, then full jitter from base', async (t) => {
  const { server, lines, agent } = await setup(t, { config: { reconnectSpreadMs: 400 }, deps: { random: () => 0.999 } });
  const session = await server.nextSession();
  t.notOk(
    lines.find((l) => l.msg === 'reconnecting'),
    'the first dial at start is not delayed',
  );
  await waitFor(() => agent.status().connected, 2000, 'connected');
  server.mode = { kind: 'drop' };
  const lostAt = performance.now();
  session.destroy();
  await waitFor(() => server.connections >= 3 && lines.filter((l) => l.msg === 'reconnecting').length >= 3, 5000, 'two redials');
  const delays = lines.filter((l) => l.msg === 'reconnecting').map((l) => [l.delayMs, l.attempt]);
  t.same(
    delays.slice(0, 3),
    [
      [399, 0],
      [19, 1],
      [39, 2],
    ],
    'spread delay, then 20 ms base doubling',
  );
  const redial = server.arrivals[1]! - lostAt;
  t.ok(redial >= 395, `first redial ${Math.round(redial)} ms after the loss (spread delay 399 ms)`);
});

t.test('a server GOAWAY (graceful shutdown) spreads the redial too', async (t) => {
  const { server, lines, agent } = await setup(t, { config: { reconnectSpreadMs: 300 }, deps: { random: () => 0.999 } });
  const session = await server.nextSession();
  await waitFor(() => agent.status().connected, 2000, 'connected');
  void session.close(1000);
  await waitFor(() => lines.find((l) => l.msg === 'reconnecting'), 5000, 'redial planned');
  t.ok(
    lines.find((l) => l.msg === 'server is going away'),
    'the GOAWAY was seen',
  );
  t.match(
    lines.find((l) => l.msg === 'reconnecting'),
    { delayMs: 299, attempt: 0 },
  );
  await server.nextSession();
  t.equal(server.connections, 2, 'one redial, after the spread delay');
});
