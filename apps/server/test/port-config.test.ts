import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { testPki } from './fixtures/pki.js';
import { meta, send, startNode, startServer, waitFor } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';

const pki = await testPki();
t.setTimeout(60_000);

/** An HTTP echo server on the node IP: streams the request body back and reports its SHA-256. */
async function startEcho(t: Test, host: string): Promise<{ server: Server; port: number; hashes: string[] }> {
  const hashes: string[] = [];
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => hash.update(c));
    req.on('end', () => hashes.push(hash.digest('hex')));
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, port: (server.address() as { port: number }).port, hashes };
}

function tempConfig(t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'edge-tunnel-server-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ports.yaml');
  writeFileSync(file, text);
  return file;
}

t.test('config file: ports apply live, bad entries show on /debug/config', async (t) => {
  const file = tempConfig(t, "dnat-ports-pair: '9051=10264'\n");
  const server = await startServer(t, pki, ['--config', file, '--config-poll-ms', '200']);
  const echo = await startEcho(t, '127.0.20.1');
  await startNode(t, pki, server, 'edge-a', '127.0.20.1', { portMap: { 9051: echo.port, 9100: echo.port } });

  const r1 = await send(server.addr.http, { method: 'POST', path: '/x', headers: { host: '127.0.20.1:9051' }, body: 'ping' });
  t.equal(r1.status, 200);
  t.equal(r1.body, 'ping', 'configured port reaches the echo server');
  t.equal((await send(server.addr.http, { headers: { host: '127.0.20.1:9100' } })).status, 403, '9100 not configured yet');

  writeFileSync(file, "dnat-ports-pair: '9051=10264'\nhttp-proxy-ports: '9100, abc'\n");
  await waitFor(() => server.handle.portConfig.current().config.httpPorts.has(9100), 3000, 'port 9100 applied');
  const r2 = await send(server.addr.http, { method: 'POST', headers: { host: '127.0.20.1:9100' }, body: 'live' });
  t.equal(r2.status, 200, 'added port works without restart');
  t.equal(r2.body, 'live');
  const cfg = (await meta(server, '/debug/config')).json();
  t.same(cfg.config.httpPorts, [9051, 9100]);
  t.match(cfg.rejected, [{ key: 'http-proxy-ports', entry: 'abc', code: 'INVALID_PORT', reason: String }]);
  t.match(cfg.source, /^file /);
  t.match(
    server.logs.find((l) => l['msg'] === 'port config entry rejected'),
    { level: 40, entry: 'abc', code: 'INVALID_PORT' },
  );

  writeFileSync(file, 'dnat-ports-pair: [unclosed\n');
  await server.logs.waitFor((l) => l['msg'] === 'port config file unusable: keeping the last good config');
  t.ok(server.handle.portConfig.current().config.httpPorts.has(9100), 'last good config kept');
  t.match((await meta(server, '/debug/config')).json(), { lastError: String });
  t.equal((await send(server.addr.http, { method: 'POST', headers: { host: '127.0.20.1:9100' }, body: 'x' })).status, 200);
});

t.test('config file: a repeated port and a blank entry are reported, the config still applies', async (t) => {
  const file = tempConfig(t, "dnat-ports-pair: '9051=10264'\n");
  const server = await startServer(t, pki, ['--config', file, '--config-poll-ms', '200']);
  const echo = await startEcho(t, '127.0.20.2');
  await startNode(t, pki, server, 'edge-d', '127.0.20.2', { portMap: { 9051: echo.port, 9100: echo.port } });

  writeFileSync(file, "dnat-ports-pair: '9051=10264,9051=10264'\nhttp-proxy-ports: '9100,,'\n");
  await waitFor(() => server.handle.portConfig.current().config.httpPorts.has(9100), 3000, 'port 9100 applied');
  const r = await send(server.addr.http, { method: 'POST', headers: { host: '127.0.20.2:9100' }, body: 'dup' });
  t.equal(r.status, 200, 'the new port works: redundant entries do not keep the last config');
  t.equal((await send(server.addr.http, { method: 'POST', headers: { host: '127.0.20.2:9051' }, body: 'x' })).status, 200);
  const cfg = (await meta(server, '/debug/config')).json();
  t.same(cfg.config.httpPorts, [9051, 9100]);
  t.notOk(cfg.lastError, 'not a load error');
  t.match(cfg.rejected, [
    {
      key: 'dnat-ports-pair',
      entry: '9051=10264',
      code: 'DUPLICATE_ENTRY',
      reason: /already declared earlier in dnat-ports-pair as '9051=10264' \(first occurrence\)/,
    },
    { key: 'http-proxy-ports', entry: '', code: 'EMPTY_ENTRY', reason: /entry 2 of 3/ },
    { key: 'http-proxy-ports', entry: '', code: 'EMPTY_ENTRY', reason: /entry 3 of 3 is empty \(a trailing comma, after '9100'\)/ },
  ]);
  t.equal(cfg.rejected.length, 3);
  await server.logs.waitFor((l) => l['msg'] === 'port config entry rejected' && l['code'] === 'DUPLICATE_ENTRY');
  t.match(
    server.logs.find((l) => l['msg'] === 'port config entry rejected' && l['code'] === 'EMPTY_ENTRY'),
    { level: 40, key: 'http-proxy-ports' },
  );

  writeFileSync(file, "dnat-ports-pair: ''\n");
  await waitFor(() => server.handle.portConfig.current().config.httpPorts.size === 0, 3000, 'key cleared');
  t.same(server.handle.portConfig.current().rejected, [], 'an empty value is "no ports", not an error');
});

t.test('100 MiB POST and response through the tunnel keep their SHA-256', async (t) => {
  const file = tempConfig(t, "dnat-ports-pair: '9051=10264'\n");
  const server = await startServer(t, pki, ['--config', file]);
  const echo = await startEcho(t, '127.0.20.1');
  await startNode(t, pki, server, 'edge-a', '127.0.20.1', { portMap: { 9051: echo.port } });
  const chunk = randomBytes(1024 * 1024);
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let bytes = 0;
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      { host: server.addr.http.host, port: server.addr.http.port, method: 'POST', path: '/big', headers: { host: '127.0.20.1:9051' }, agent: false },
      (res: IncomingMessage) => {
        res.on('data', (c: Buffer) => (received.update(c), (bytes += c.length)));
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    let i = 0;
    const pump = (): void => {
      while (i < 100) {
        const piece = Buffer.from(chunk);
        piece.writeUInt32BE(i++, 0); // every MiB differs
        sent.update(piece);
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  t.equal(status, 200);
  t.equal(bytes, 100 * 1024 * 1024);
  const digest = sent.digest('hex');
  t.equal(received.digest('hex'), digest, 'response body SHA-256 equals the request body');
  await waitFor(() => echo.hashes.length === 1, 2000, 'echo done');
  t.equal(echo.hashes[0], digest, 'the target received exactly the request body');
  const audit = await server.logs.waitFor((l) => l['msg'] === 'audit');
  t.match(audit, { bytesIn: 100 * 1024 * 1024, bytesOut: 100 * 1024 * 1024, port: 9051 });
});

/** CONNECT `target` on the frontend; resolves with the status and the raw socket. */
function connectVia(server: TestServer, target: string): Promise<{ status: number; socket: Socket; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: server.addr.connect!.host, port: server.addr.connect!.port, method: 'CONNECT', path: target, agent: false });
    req.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode === 200) return resolve({ status: 200, socket, body: '' });
      void readAll(socket).then((rest) => resolve({ status: res.statusCode ?? 0, socket, body: head.toString() + rest }));
    });
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: res.socket as Socket, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function readAll(socket: Socket | import('node:tls').TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (c: Buffer) => (text += c));
    socket.on('error', () => resolve(text));
    socket.on('close', () => resolve(text));
  });
}

t.test('CONNECT frontend: plain and TLS round trips, misses with status', async (t) => {
  const file = tempConfig(t, "dnat-ports-pair: '9051=10264'\n");
  const server = await startServer(t, pki, ['--config', file, '--connect-addr', '127.0.0.1:0']);
  const echo = await startEcho(t, '127.0.20.1');
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1', { portMap: { 9051: echo.port } });

  const plain = await connectVia(server, '127.0.20.1:10255');
  t.equal(plain.status, 200);
  plain.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.20.1:10255\r\nConnection: close\r\n\r\n');
  t.match(await readAll(plain.socket), /^HTTP\/1\.1 200[\s\S]*\r\n\r\nok$/);
  t.match(node.agent.opens.at(-1), { host: '127.0.20.1', port: 10255, kind: 'connect' });

  // kube-apiserver style: TLS with its kubelet-client identity, end to end through the CONNECT tunnel
  const tunnel = await connectVia(server, 'edge-a:10250');
  t.equal(tunnel.status, 200);
  const tls = tlsConnect({
    socket: tunnel.socket,
    cert: pki.kubeletClient.certPem,
    key: pki.kubeletClient.keyPem,
    ca: pki.clusterCa.certPem,
    servername: 'edge-a',
  });
  tls.write('GET /pods HTTP/1.1\r\nHost: 127.0.20.1:10250\r\nConnection: close\r\n\r\n');
  t.match(await readAll(tls), /"kind":"PodList"/);

  const custom = await connectVia(server, '127.0.20.1:9051');
  t.equal(custom.status, 200, 'configured port');
  custom.socket.end('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
  t.match(await readAll(custom.socket), /\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/);

  const unknown = await connectVia(server, '127.0.20.99:10250');
  t.equal(unknown.status, 502);
  t.match(unknown.body, /NODE_UNKNOWN/);
  const closed = await connectVia(server, '127.0.20.1:22');
  t.equal(closed.status, 403);
  t.match(closed.body, /PORT_NOT_CONFIGURED/);
  const audits = server.logs.lines.filter((l) => l['msg'] === 'audit' && l['listener'] === 'connect');
  t.equal(audits.length, 5, 'one audit line per CONNECT');
});
