// issue 14: a keep-alive caller on :10264 costs one tunnel stream (and one connection at the target)
// per connection, not per request: the HTTP listener has the same per-node pool as :10263, its
// sockets plain streams (proxy/pool-socket.ts). Before, 50 keep-alive requests opened 50 streams and
// the agent dialled the target 50 times (--upstream-pool-size=0 still does, below). The target here
// counts its TCP connections and can close them, as a real one may at any time.
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { testPki } from './fixtures/pki.js';
import { connectAgent, meta, startServer, waitAttached, waitFor, type TestServer } from './fixtures/harness.js';
import type { FakeAgent } from './fixtures/fake-agent.js';

const pki = await testPki();

/** An HTTP/1.1 target on `host`: GET /ok (2 bytes), /close (Connection: close), /slow (body after 800 ms). */
interface Target {
  port: number;
  /** TCP connections accepted so far */
  connections: number;
  /** ends (FIN) every open connection, as a target closing idle keep-alive connections does */
  endAll(): void;
}

async function startTarget(t: Test, host: string): Promise<Target> {
  const open = new Set<Socket>();
  const target = { port: 0, connections: 0, endAll: () => open.forEach((s) => s.end()) };
  const server: Server = createServer({ allowHalfOpen: false }, (socket) => {
    target.connections += 1;
    open.add(socket);
    socket.on('close', () => open.delete(socket)).on('error', () => undefined);
    let buffered = '';
    socket.setEncoding('latin1').on('data', (text: string) => {
      buffered += text;
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const path = buffered.slice(0, end).split(' ')[1];
        buffered = buffered.slice(end + 4);
        if (path === '/close') socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
        else if (path === '/slow') {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n');
          setTimeout(() => socket.write('slow'), 800);
        } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  target.port = (server.address() as { port: number }).port;
  t.teardown(() => {
    target.endAll();
    server.close();
  });
  return target;
}

/** A node whose port 10255 is `target` (the agent dials host:target.port). */
async function nodeWithTarget(t: Test, server: TestServer, nodeName: string, host: string): Promise<{ target: Target; agent: FakeAgent }> {
  const target = await startTarget(t, host);
  const agent = await connectAgent(t, pki, server, nodeName, [host], { portMap: { 10255: target.port } });
  await waitAttached(server, nodeName, agent);
  return { target, agent };
}

/** One keep-alive caller connection to :10264 (maxSockets 1). */
function caller(t: Test, server: TestServer, host: string): (path: string) => Promise<{ status: number; body: string; reused: boolean }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const { http } = server.addr;
  return (path) =>
    new Promise((resolve, reject) => {
      const req = request({ host: http.host, port: http.port, path, agent, headers: { host: `${host}:10255` } }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('error', reject)
          .on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
      });
      req.on('error', reject).end();
    });
}

async function metric(server: TestServer, series: string): Promise<number> {
  const line = (await meta(server, '/metrics')).body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const streamsOf = (server: TestServer, nodeName: string): number => server.handle.registry.get(nodeName)?.session.streams.size ?? -1;
const N = 50;

t.test(`${N} keep-alive requests through :10264: one stream, one target connection, ${N} audit lines`, async (t) => {
  const server = await startServer(t, pki);
  const { target, agent } = await nodeWithTarget(t, server, 'edge-a', '127.0.106.1');
  const get = caller(t, server, '127.0.106.1');
  for (let i = 0; i < N; i++) t.match(await get('/ok'), { status: 200, body: 'ok' }, `request ${i + 1}`);
  t.equal(agent.opens.length, 1, 'one stream opened');
  t.equal(target.connections, 1, 'one connection at the target');
  t.equal(await metric(server, 'edge_tunnel_upstream_connections_total{result="opened"}'), 1);
  t.equal(await metric(server, 'edge_tunnel_upstream_connections_total{result="reused"}'), N - 1);
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 1, 'the connection waits in the pool');
  t.equal(server.logs.lines.filter((l) => l['msg'] === 'audit' && l['listener'] === 'http' && l['status'] === 200).length, N, 'an audit line per request');
});

t.test('--upstream-pool-size=0: a stream and a target connection per request (the old behaviour)', async (t) => {
  const server = await startServer(t, pki, ['--upstream-pool-size', '0']);
  const { target, agent } = await nodeWithTarget(t, server, 'edge-a', '127.0.106.2');
  const get = caller(t, server, '127.0.106.2');
  for (let i = 0; i < 5; i++) t.equal((await get('/ok')).status, 200);
  t.equal(agent.opens.length, 5);
  t.equal(target.connections, 5);
});

t.test('a target that ends an idle connection takes it out of the pool; Connection: close is never reused', async (t) => {
  const server = await startServer(t, pki);
  const { target, agent } = await nodeWithTarget(t, server, 'edge-a', '127.0.106.3');
  const get = caller(t, server, '127.0.106.3');
  t.equal((await get('/ok')).status, 200);
  target.endAll();
  // a stream is half-open after the target's FIN (a TCP socket would close): the pool must close it
  await waitFor(() => streamsOf(server, 'edge-a') === 0, 3000, 'the ended connection closed');
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 0, 'not in the pool');
  t.match(await get('/ok'), { status: 200, body: 'ok', reused: true }, 'the caller kept its own connection; the request went on a new upstream one');
  t.equal(target.connections, 2);
  t.equal((await get('/close')).status, 200);
  t.equal((await get('/ok')).status, 200);
  t.equal(target.connections, 3, 'the connection that answered Connection: close was not reused');
  t.equal(agent.opens.length, 3);
  t.equal(server.logs.lines.filter((l) => l['msg'] === 'audit' && l['status'] === 200).length, 4, 'every request answered and audited');
});

t.test('--upstream-idle-timeout-ms closes an idle stream; a busy reused one outlives it', async (t) => {
  const server = await startServer(t, pki, ['--upstream-idle-timeout-ms', '300']);
  const { target } = await nodeWithTarget(t, server, 'edge-a', '127.0.106.4');
  const get = caller(t, server, '127.0.106.4');
  t.equal((await get('/ok')).status, 200);
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 1);
  await waitFor(() => streamsOf(server, 'edge-a') === 0, 3000, 'the idle stream closed');
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 0);
  t.equal((await get('/ok')).status, 200, 'the next request opens a fresh one');
  t.equal(target.connections, 2);
  // 800 ms between head and body on the reused connection: longer than the idle timeout
  t.match(await get('/slow'), { status: 200, body: 'slow' }, 'a busy connection is not closed by the idle timeout');
  t.equal(target.connections, 2, 'the slow request reused the pooled connection');
  t.equal((await get('/ok')).status, 200, 'and the connection went back to the pool after it');
  t.equal(target.connections, 2);
});

t.test('a response whose body is late gets its head at once (a log follow sees its 200 before the first line)', async (t) => {
  const server = await startServer(t, pki);
  await nodeWithTarget(t, server, 'edge-a', '127.0.106.6');
  const { http } = server.addr;
  const started = performance.now();
  const req = request({ host: http.host, port: http.port, path: '/slow', agent: false, headers: { host: '127.0.106.6:10255' } });
  req.end();
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  const headAt = performance.now() - started;
  let body = '';
  await new Promise((resolve) =>
    res
      .setEncoding('utf8')
      .on('data', (c: string) => (body += c))
      .on('end', resolve),
  );
  const bodyAt = performance.now() - started;
  t.equal(body, 'slow');
  t.ok(headAt < bodyAt - 400, `head after ${headAt.toFixed(0)} ms, body after ${bodyAt.toFixed(0)} ms (the target sends it 800 ms later)`);
});

t.test('the node session goes: its idle streams are dropped, the next request is 503 from the node table', async (t) => {
  const server = await startServer(t, pki);
  const { agent } = await nodeWithTarget(t, server, 'edge-a', '127.0.106.5');
  const get = caller(t, server, '127.0.106.5');
  t.equal((await get('/ok')).status, 200);
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 1);
  await agent.close();
  await waitFor(() => server.handle.registry.get('edge-a') === undefined, 3000, 'session gone');
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 0, 'pool empty');
  t.equal((await get('/ok')).status, 503, 'not sent on a stale stream');
});
