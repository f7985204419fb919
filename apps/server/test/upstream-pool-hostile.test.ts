// Hostile edge against the upstream pool (issue 14): a kubelet (or an agent playing one) that answers
// a plain request with 101, or sends bytes after a complete response, must not get them delivered to
// the next request that reuses the connection. A raw TLS sink stands in for the kubelet.
import { once } from 'node:events';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { testPki } from './fixtures/pki.js';
import { connectAgent, sleep, startServer, waitAttached, type TestServer } from './fixtures/harness.js';

const pki = await testPki();
const callerTls = { cert: pki.caller.certPem, key: pki.caller.keyPem, ca: pki.agentCa.certPem, servername: 'localhost' };

const ANSWERS: Record<string, string> = {
  '/ok': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  // one request, two responses: the second waits on the idle connection for the next request
  '/double': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
  '/switch': 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: evil\r\n\r\nraw bytes after the switch',
};

/** A TLS "kubelet" on `ip` answering each request head by its path from ANSWERS; counts handshakes. */
async function sink(t: Test, ip: string): Promise<{ port: number; handshakes: () => number }> {
  const serving = await pki.kubeletServing('edge-h', ip);
  let handshakes = 0;
  const server = createTlsServer({ cert: serving.certPem, key: serving.keyPem }, (socket: TLSSocket) => {
    handshakes += 1;
    let buf = '';
    let closeOnNext = false;
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.slice(0, end).split(' ')[1] ?? '';
        buf = buf.slice(end + 4);
        // the kubelet closing an idle connection just as the next request arrives on it
        if (closeOnNext) return void socket.destroy();
        if (path === '/ok-then-close') {
          closeOnNext = true;
          socket.write(ANSWERS['/ok']!);
          continue;
        }
        if (path === '/late') {
          // a complete answer, then another one while the connection sits idle in the pool
          socket.write(ANSWERS['/ok']!);
          setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'), 50);
          continue;
        }
        socket.write(ANSWERS[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      }
    });
  });
  server.listen(0, ip);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, handshakes: () => handshakes };
}

async function setup(
  t: Test,
  ip: string,
): Promise<{ server: TestServer; get: (path: string, method?: string, body?: string) => Promise<{ status: number; body: string }>; handshakes: () => number }> {
  const server = await startServer(t, pki);
  const kubelet = await sink(t, ip);
  const agent = await connectAgent(t, pki, server, 'edge-h', [ip], { portMap: { 10250: kubelet.port } });
  await waitAttached(server, 'edge-h', agent);
  const callerAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => callerAgent.destroy());
  const { https } = server.addr;
  const get = (path: string, method = 'GET', payload?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      httpsRequest({ host: https.host, port: https.port, path, method, agent: callerAgent, headers: { host: `${ip}:10250` }, ...callerTls }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('error', reject)
          .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end(payload);
    });
  return { server, get, handshakes: kubelet.handshakes };
}

t.test('bytes after a complete response never reach the next request', async (t) => {
  const { get, handshakes } = await setup(t, '127.0.170.21');
  t.same(await get('/ok'), { status: 200, body: 'ok' });
  t.same(await get('/double'), { status: 200, body: 'first' });
  for (let i = 0; i < 3; i++) t.same(await get('/ok'), { status: 200, body: 'ok' }, `request ${i + 1} after it gets its own answer`);
  t.ok(handshakes() >= 2, `the poisoned connection was dropped (${handshakes()} handshakes)`);
  const before = handshakes();
  t.same(await get('/late'), { status: 200, body: 'ok' });
  await sleep(200);
  t.same(await get('/ok'), { status: 200, body: 'ok' }, "an answer that arrived while idle is not the next request's");
  t.equal(handshakes(), before + 1, 'the connection that got it was dropped');
});

t.test('a 101 to a plain request: 502, the connection is closed, not reused', async (t) => {
  const { server, get, handshakes } = await setup(t, '127.0.170.22');
  t.same(await get('/ok'), { status: 200, body: 'ok' });
  const switched = await get('/switch');
  t.equal(switched.status, 502);
  t.notMatch(switched.body, /raw bytes/);
  t.same(await get('/ok'), { status: 200, body: 'ok' }, 'the next request works, on a fresh connection');
  t.equal(handshakes(), 2);
  t.ok(
    server.logs.find((l) => l['msg'] === 'upstream answered 101 without an upgrade request, connection closed' && l['nodeName'] === 'edge-h'),
    'warn line',
  );
  t.ok(
    server.logs.find((l) => l['msg'] === 'audit' && l['status'] === 502 && l['reason'] === 'UPSTREAM_ERROR' && l['path'] === '/switch'),
    'audit line',
  );
});

t.test('a pooled connection the kubelet closes as a GET arrives: retried once on a new one; a POST is not', async (t) => {
  const { server, get, handshakes } = await setup(t, '127.0.170.23');
  t.same(await get('/ok-then-close'), { status: 200, body: 'ok' });
  t.same(await get('/ok'), { status: 200, body: 'ok' }, 'the GET got its answer over a new connection');
  t.equal(handshakes(), 2);
  t.ok(
    server.logs.find((l) => l['msg'] === 'pooled upstream connection failed before an answer, retrying on a new one'),
    'debug line',
  );
  t.equal(server.logs.lines.filter((l) => l['msg'] === 'audit').length, 2, 'one audit line per request, the retry included');
  // the retry's connection was not pooled; this one is, and a POST on it is never sent twice
  t.same(await get('/ok-then-close'), { status: 200, body: 'ok' });
  const post = await get('/ok', 'POST', 'not idempotent');
  t.equal(post.status, 502, 'a POST that may have reached the kubelet is not retried');
});
