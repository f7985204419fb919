import { connect as tlsConnect } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import t from 'tap';
import { testPki } from './fixtures/pki.js';
import { connectAgent, meta, send, startNode, startServer, waitAttached, waitFor } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';

const pki = await testPki();
t.setTimeout(30_000);

/** A raw TLS connection to the agent port with `cert` (or none); resolves when the server drops it. */
function tryConnect(server: TestServer, cert?: { certPem: string; keyPem: string }): Promise<void> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: server.addr.agent.host,
      port: server.addr.agent.port,
      ca: pki.agentCa.certPem,
      servername: 'localhost',
      cert: cert?.certPem,
      key: cert?.keyPem,
    });
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.on('close', () => resolve());
  });
}

t.test('a certificate for node A cannot register node B', async (t) => {
  const server = await startServer(t, pki);
  const liar = await connectAgent(t, pki, server, 'edge-a', ['127.0.20.1'], { nodeName: 'edge-b' });
  await waitFor(() => liar.goaways.length > 0, 2000, 'GOAWAY');
  t.match(liar.goaways[0], { code: 'REFUSED', reason: /certificate names node edge-a but hello claims "edge-b"/ });
  const line = await server.logs.waitFor((l) => l['msg'] === 'agent refused: identity mismatch');
  t.match(line, { level: 40, certNode: 'edge-a', helloNode: 'edge-b' });
  t.equal(server.handle.registry.table.size, 0, 'neither node registered');

  const ipClaim = await connectAgent(t, pki, server, 'edge-a', ['127.0.20.1'], { nodeIps: ['127.0.20.1', '127.0.20.5'] });
  await waitFor(() => ipClaim.session.destroyed, 2000, 'session with a foreign IP closed');
  await server.logs.waitFor((l) => typeof l['reason'] === 'string' && /does not list IP 127\.0\.20\.5/.test(l['reason']));
  t.equal(server.handle.registry.table.size, 0, 'IP claim outside the certificate refused');

  const ok = await connectAgent(t, pki, server, 'edge-a', ['127.0.20.1'], { nodeName: 'Edge-A' });
  await waitAttached(server, 'edge-a', ok);
  t.pass('names match case-insensitively');
});

t.test('TLS failures are logged with a reason and never crash', async (t) => {
  const server = await startServer(t, pki);
  await tryConnect(server);
  t.match(await server.logs.waitFor((l) => /agent/.test(String(l['msg'])) && /certificate/.test(String(l['reason']))), { level: 40 }, 'no client certificate');
  await tryConnect(server, await pki.agent('edge-a', ['127.0.20.1'], { ca: pki.foreignCa }));
  t.match(await server.logs.waitFor((l) => /not signed by the agent CA/.test(String(l['reason']))), { msg: 'agent rejected: certificate', level: 40 });
  await tryConnect(server, await pki.agent('edge-a', ['127.0.20.1'], { expired: true }));
  t.match(await server.logs.waitFor((l) => l['code'] === 'CERT_HAS_EXPIRED'), { reason: 'the agent certificate has expired' });
  t.equal(server.handle.registry.table.size, 0);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  t.equal((await send(server.addr.http, { path: '/healthz', headers: { host: `${node.ip}:10255` } })).status, 200, 'server still serves');
});

t.test('a second session for the same node replaces the first after it drains', async (t) => {
  const server = await startServer(t, pki, ['--drain-timeout-ms', '5000']);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  const first = node.agent;
  const oldId = server.handle.registry.get('edge-a')!.sessionId;
  // a long-lived stream on the first session: a log follow through the HTTPS listener
  const { req, res } = await new Promise<{ req: ReturnType<typeof httpsRequest>; res: IncomingMessage }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: server.addr.https.host,
        port: server.addr.https.port,
        path: '/containerLogs/default/demo/app?follow=true',
        headers: { host: '127.0.20.1:10250' },
        servername: 'localhost',
        agent: false,
        cert: pki.caller.certPem,
        key: pki.caller.keyPem,
        ca: pki.agentCa.certPem,
      },
      (res) => resolve({ req, res }),
    );
    req.on('error', reject);
    req.end();
  });
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (s: string) => (text += s));
  res.on('error', () => undefined);
  req.on('error', () => undefined);
  const firstClosed = new Promise<number>((resolve) => first.session.once('close', () => resolve(performance.now())));
  const second = await connectAgent(t, pki, server, 'edge-a', ['127.0.20.1'], { portMap: { 10250: node.kubelet.httpsPort, 10255: node.kubelet.httpPort } });
  await waitAttached(server, 'edge-a', second);
  await waitFor(() => first.goaways.length > 0, 2000, 'GOAWAY');
  t.match(first.goaways[0], { code: 'NO_ERROR', reason: /replaced/ }, 'old session told to go away');
  node.kubelet.appendLog('default', 'demo', 'app', 'written after the replacement');
  await waitFor(() => text.includes('written after the replacement\n'), 2000, 'line through the old stream');
  t.pass('the old session keeps serving its open stream while draining');
  const r = await send(server.addr.http, { path: '/healthz', headers: { host: '127.0.20.1:10255' } });
  t.equal(r.status, 200);
  t.equal(second.opens.length, 1, 'new requests go to the new session');
  t.equal(first.opens.length, 1);
  t.equal(first.session.destroyed, false, 'old session still open while its stream is');
  const endedAt = performance.now();
  req.destroy();
  const closedAt = await firstClosed;
  t.ok(closedAt - endedAt < 1000, `old session closed ${(closedAt - endedAt).toFixed(0)} ms after its last stream ended (drain deadline 5 s)`);
  t.not(server.handle.registry.get('edge-a')!.sessionId, oldId);
  t.match(await server.logs.waitFor((l) => l['msg'] === 'agent session replaced: draining the old one'), { nodeName: 'edge-a', oldSessionId: oldId });
  await server.logs.waitFor((l) => l['msg'] === 'agent session closed' && l['current'] === false);
  const tunnels = (await meta(server, '/debug/tunnels')).json();
  t.equal(tunnels.nodes.length, 1);
  t.equal(tunnels.nodes[0].connected, true, 'the old session closing did not detach the new one');
});
