// issue 14: a keep-alive caller on :10263 costs one upstream stream and TLS handshake per connection,
// not per request. Handshakes are counted where they happen: at the kubelet emulator's HTTPS port
// (tlsHandshakes()). Before the pool, 50 keep-alive requests made 50 handshakes (--upstream-pool-size=0
// still does, below).
import { once } from 'node:events';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { testPki } from './fixtures/pki.js';
import { connectAgent, meta, startNode, startServer, waitAttached, waitFor, type TestServer } from './fixtures/harness.js';

const pki = await testPki();
const callerTls = { cert: pki.caller.certPem, key: pki.caller.keyPem, ca: pki.agentCa.certPem, servername: 'localhost' };

/** One keep-alive caller connection to :10263 (maxSockets 1): GETs on it resolve with status and body. */
function caller(t: Test, server: TestServer, host: string): (path: string) => Promise<{ status: number; body: string; error?: string }> {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const { https } = server.addr;
  return (path) =>
    new Promise((resolve, reject) => {
      httpsRequest({ host: https.host, port: https.port, path, agent, headers: { host }, ...callerTls }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('error', reject)
          .on('end', () => resolve({ status: res.statusCode ?? 0, body, error: res.headers['x-tunnel-error'] as string | undefined }));
      })
        .on('error', reject)
        .end();
    });
}

/** A value of the server's /metrics (0 when the series is absent). */
async function metric(server: TestServer, series: string): Promise<number> {
  const text = (await meta(server, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const N = 50;

t.test(`${N} keep-alive requests through :10263: one upstream TLS handshake, ${N} audit lines`, async (t) => {
  const server = await startServer(t, pki);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.170.1');
  const get = caller(t, server, '127.0.170.1:10250');
  for (let i = 0; i < N; i++) t.equal((await get(i % 2 ? '/pods' : '/healthz')).status, 200, `request ${i + 1}`);
  t.equal(node.kubelet.tlsHandshakes(), 1, 'one handshake at the kubelet');
  t.equal(node.agent.opens.length, 1, 'one stream opened');
  t.equal(await metric(server, 'edge_tunnel_upstream_connections_total{result="opened"}'), 1);
  t.equal(await metric(server, 'edge_tunnel_upstream_connections_total{result="reused"}'), N - 1);
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 1, 'the connection waits in the pool');
  t.equal(server.logs.lines.filter((l) => l['msg'] === 'audit' && l['status'] === 200).length, N, 'an audit line per request');
});

t.test('--upstream-pool-size=0: a stream and a handshake per request (the old behaviour)', async (t) => {
  const server = await startServer(t, pki, ['--upstream-pool-size', '0']);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.170.2');
  const get = caller(t, server, '127.0.170.2:10250');
  for (let i = 0; i < 10; i++) t.equal((await get('/healthz')).status, 200);
  t.equal(node.kubelet.tlsHandshakes(), 10);
  t.equal(node.agent.opens.length, 10);
});

t.test('an upgraded (101) connection is never pooled or reused; plain requests around it reuse theirs', async (t) => {
  const server = await startServer(t, pki);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.170.3');
  const get = caller(t, server, '127.0.170.3:10250');
  t.equal((await get('/healthz')).status, 200);
  t.equal(node.kubelet.tlsHandshakes(), 1);
  const url = `wss://${server.addr.https.host}:${server.addr.https.port}/exec/default/demo/app?command=cat&stdin=true&stdout=true`;
  const ws = new WebSocket(url, ['v5.channel.k8s.io'], { ...callerTls, headers: { host: '127.0.170.3:10250' }, perMessageDeflate: false });
  await once(ws, 'open');
  t.equal(node.kubelet.tlsHandshakes(), 2, 'the upgrade took a connection of its own, not the idle pooled one');
  for (let i = 0; i < 5; i++) t.equal((await get('/pods')).status, 200, 'GET while the exec is open');
  t.equal(node.kubelet.tlsHandshakes(), 2, 'GETs reuse the pooled connection, never the upgraded one');
  ws.close();
  await once(ws, 'close');
  await waitFor(() => node.agent.opens.length === 2 && server.handle.registry.get('edge-a')!.session.streams.size === 1, 3000, 'the exec stream closed');
  for (let i = 0; i < 3; i++) t.equal((await get('/healthz')).status, 200, 'GET after the exec');
  t.equal(node.kubelet.tlsHandshakes(), 2, 'the upgraded connection did not enter the pool');
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 1);
});

t.test('a failed upstream connection is dropped: the next request gets a fresh one and succeeds', async (t) => {
  const server = await startServer(t, pki);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.170.4');
  const get = caller(t, server, '127.0.170.4:10250');
  t.equal((await get('/healthz')).status, 200);
  // a caller that leaves mid-response: the upstream connection is destroyed with its stream (CANCEL)
  const { https } = server.addr;
  const follow = httpsRequest({
    host: https.host,
    port: https.port,
    path: '/containerLogs/default/demo/app?follow=true',
    agent: false,
    headers: { host: '127.0.170.4:10250' },
    ...callerTls,
  });
  follow.on('error', () => undefined).end();
  const [res] = (await once(follow, 'response')) as [import('node:http').IncomingMessage];
  res.on('error', () => undefined);
  t.equal(res.statusCode, 200);
  await waitFor(() => node.kubelet.activeFollowers() === 1, 2000, 'follower');
  t.equal(node.kubelet.tlsHandshakes(), 1, 'the follow reused the idle connection');
  follow.destroy();
  await waitFor(() => node.kubelet.activeFollowers() === 0, 2000, 'follower gone');
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 0, 'the cancelled connection is not back in the pool');
  t.equal((await get('/pods')).status, 200, 'next request');
  t.equal(node.kubelet.tlsHandshakes(), 2, 'on a fresh connection');

  // the kubelet side fails: the agent refuses the next stream, then TLS to a kubelet with the wrong CA fails
  const refusing = await startServer(t, pki, ['--verify-kubelet'], { kubeletCa: pki.foreignCa.certPem });
  const bad = await startNode(t, pki, refusing, 'edge-b', '127.0.170.5');
  const badGet = caller(t, refusing, '127.0.170.5:10250');
  for (let i = 0; i < 3; i++) t.equal((await badGet('/healthz')).status, 502, 'kubelet cert from another CA');
  t.equal(bad.agent.opens.length, 3, 'each try opened its own stream: a failed TLS connection is never reused');
  t.equal(await metric(refusing, 'edge_tunnel_upstream_idle_connections'), 0);
  await waitFor(() => refusing.handle.registry.get('edge-b')!.session.streams.size === 0, 2000, 'failed streams closed');
});

t.test('the pool empties when the node session goes, and a replaced session drains without waiting for it', async (t) => {
  const server = await startServer(t, pki, ['--drain-timeout-ms', '30000']);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.170.6');
  const get = caller(t, server, '127.0.170.6:10250');
  t.equal((await get('/healthz')).status, 200);
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 1);
  const old = server.handle.registry.get('edge-a')!;
  // a newer session of the same node: the old one drains; its idle pooled stream must not hold the drain
  const started = performance.now();
  const next = await connectAgent(t, pki, server, 'edge-a', ['127.0.170.6'], { portMap: { 10250: node.kubelet.httpsPort } });
  await waitAttached(server, 'edge-a', next);
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 0, 'idle connections of the replaced session closed');
  await waitFor(() => old.session.destroyed, 5000, 'old session closed');
  t.ok(performance.now() - started < 5000, 'the old session closed long before its 30 s drain deadline');
  t.equal((await get('/pods')).status, 200, 'the caller goes on through the new session');
  t.equal(node.kubelet.tlsHandshakes(), 2);
  t.equal(next.opens.length, 1);
  // the session goes: its idle connection is gone, the next request gets 503 NO_TUNNEL, not a stale connection
  await next.close();
  await waitFor(() => server.handle.registry.get('edge-a') === undefined, 3000, 'session gone');
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 0, 'pool empty');
  const after = await get('/healthz');
  t.equal(after.status, 503, 'answered from the node table, not over a stale pooled connection');
  t.equal(after.error, 'NO_TUNNEL');
});

t.test('--upstream-idle-timeout-ms closes idle connections; a busy reused one outlives it', async (t) => {
  const server = await startServer(t, pki, ['--upstream-idle-timeout-ms', '500']);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.170.7');
  const get = caller(t, server, '127.0.170.7:10250');
  t.equal((await get('/healthz')).status, 200);
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 1);
  await waitFor(() => server.handle.registry.get('edge-a')!.session.streams.size === 0, 3000, 'the idle connection closed');
  t.equal(await metric(server, 'edge_tunnel_upstream_idle_connections'), 0);
  t.equal((await get('/healthz')).status, 200, 'the next request opens a fresh one');
  t.equal(node.kubelet.tlsHandshakes(), 2);
  // a log follow on the reused connection runs longer than the idle timeout and keeps streaming
  const { https } = server.addr;
  const follow = httpsRequest({
    host: https.host,
    port: https.port,
    path: '/containerLogs/default/demo/app?follow=true',
    agent: false,
    headers: { host: '127.0.170.7:10250' },
    ...callerTls,
  });
  follow.on('error', () => undefined).end();
  const [res] = (await once(follow, 'response')) as [import('node:http').IncomingMessage];
  let text = '';
  res
    .setEncoding('utf8')
    .on('data', (s: string) => (text += s))
    .on('error', () => undefined);
  await waitFor(() => node.kubelet.activeFollowers() === 1, 2000, 'follower');
  t.equal(node.kubelet.tlsHandshakes(), 2, 'the follow reused the pooled connection');
  await new Promise((r) => setTimeout(r, 1500));
  node.kubelet.appendLog('default', 'demo', 'app', 'after three idle timeouts');
  await waitFor(() => text.includes('after three idle timeouts\n'), 2000, 'line forwarded');
  t.pass('a busy connection is not closed by the idle timeout');
  follow.destroy();
});
