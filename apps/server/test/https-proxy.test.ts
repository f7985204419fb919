import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import WebSocket from 'ws';
import { testPki } from './fixtures/pki.js';
import { send, startNode, startServer, waitFor } from './fixtures/harness.js';

const pki = await testPki();
const callerTls = { cert: pki.caller.certPem, key: pki.caller.keyPem, ca: pki.agentCa.certPem };

t.test('HTTPS listener: caller cert in, kubelet-client TLS out', async (t) => {
  const server = await startServer(t, pki);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  // the emulator requires a client cert from the cluster CA: a 200 proves the server's kubelet-client identity
  const r = await send(server.addr.https, { path: '/pods', headers: { host: '127.0.20.1:10250' }, tls: callerTls });
  t.equal(r.status, 200);
  t.equal(JSON.parse(r.body).items[0].spec.nodeName, 'edge-a');
  t.match(node.agent.opens.at(-1), { host: '127.0.20.1', port: 10250, kind: 'https' });
  const audit = await server.logs.waitFor((l) => l['msg'] === 'audit');
  t.match(audit, { listener: 'https', caller: 'kube-apiserver-kubelet-client', nodeName: 'edge-a', port: 10250, status: 200 });

  const wrong = await send(server.addr.https, { headers: { host: '127.0.20.1:10255' }, tls: callerTls });
  t.equal(wrong.status, 421, 'HTTP port on the HTTPS listener');
});

t.test('HTTPS listener with --verify-kubelet checks the kubelet serving cert', async (t) => {
  const server = await startServer(t, pki, ['--verify-kubelet']);
  await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  const r = await send(server.addr.https, { path: '/healthz', headers: { host: '127.0.20.1:10250' }, tls: callerTls });
  t.equal(r.status, 200, 'serving cert for 127.0.20.1 from the kubelet CA verifies');
  const other = await startServer(t, pki, ['--verify-kubelet'], { kubeletCa: pki.foreignCa.certPem });
  await startNode(t, pki, other, 'edge-a', '127.0.20.1');
  const bad = await send(other.addr.https, { path: '/healthz', headers: { host: '127.0.20.1:10250' }, tls: callerTls });
  t.equal(bad.status, 502, 'kubelet cert from another CA is refused');
});

t.test('HTTPS listener rejects callers without a certificate', async (t) => {
  const server = await startServer(t, pki);
  await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  await t.rejects(send(server.addr.https, { headers: { host: '127.0.20.1:10250' }, tls: { ca: pki.agentCa.certPem } }));
  await server.logs.waitFor((l) => l['msg'] === 'caller tls handshake failed');
  const foreign = await pki.agent('edge-a', ['127.0.20.1'], { ca: pki.foreignCa });
  await t.rejects(
    send(server.addr.https, { headers: { host: '127.0.20.1:10250' }, tls: { cert: foreign.certPem, key: foreign.keyPem, ca: pki.agentCa.certPem } }),
  );

  const relaxed = await startServer(t, pki, ['--require-caller-cert=false']);
  await startNode(t, pki, relaxed, 'edge-b', '127.0.20.2');
  const r = await send(relaxed.addr.https, { path: '/healthz', headers: { host: '127.0.20.2:10250' }, tls: { ca: pki.agentCa.certPem } });
  t.equal(r.status, 200, '--require-caller-cert=false lets them in');
});

t.test('log follow streams lines as appended; closing the caller ends the follower', async (t) => {
  const server = await startServer(t, pki);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  const { req, res } = await new Promise<{ req: ReturnType<typeof httpsRequest>; res: IncomingMessage }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: server.addr.https.host,
        port: server.addr.https.port,
        path: '/containerLogs/default/demo/app?follow=true',
        headers: { host: '127.0.20.1:10250' },
        servername: 'localhost',
        agent: false,
        ...callerTls,
      },
      (res) => resolve({ req, res }),
    );
    req.on('error', reject);
    req.end();
  });
  t.equal(res.statusCode, 200);
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (s: string) => (text += s));
  res.on('error', () => undefined);
  req.on('error', () => undefined);
  await waitFor(() => node.kubelet.activeFollowers() === 1, 1000, 'follower registered');
  for (const line of ['first line', 'second line', 'third line']) {
    node.kubelet.appendLog('default', 'demo', 'app', line);
    await waitFor(() => text.includes(`${line}\n`), 2000, `"${line}" forwarded`);
    t.pass(`"${line}" arrived before the next was written`);
  }
  const stoppedAt = performance.now();
  req.destroy();
  await waitFor(() => node.kubelet.activeFollowers() === 0, 1000, 'follower gone');
  t.ok(performance.now() - stoppedAt < 1000, 'the kubelet follower ended within 1 s of the caller leaving');
  const audit = await server.logs.waitFor((l) => l['msg'] === 'audit');
  t.match(audit, { path: '/containerLogs/default/demo/app', reason: 'CALLER_GONE' });
});

t.test('WebSocket exec round trip (v5.channel.k8s.io) through the HTTPS listener', async (t) => {
  const server = await startServer(t, pki);
  const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  const url = `wss://${server.addr.https.host}:${server.addr.https.port}/exec/default/demo/app?command=cat&stdin=true&stdout=true&stderr=true`;
  const ws = new WebSocket(url, ['v5.channel.k8s.io'], {
    ...callerTls,
    headers: { host: '127.0.20.1:10250' },
    perMessageDeflate: false,
  });
  const out: Buffer[] = [];
  let status = '';
  ws.on('message', (data: Buffer) => {
    if (data[0] === 1) out.push(data.subarray(1));
    if (data[0] === 3) status += data.subarray(1).toString();
  });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  t.equal(ws.protocol, 'v5.channel.k8s.io');
  ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello through the tunnel\n')]));
  await waitFor(() => Buffer.concat(out).toString() === 'hello through the tunnel\n', 3000, 'echo');
  ws.send(Buffer.from([255, 0])); // v5: close stdin → cat exits
  const code = await new Promise<number>((resolve) => ws.once('close', resolve));
  t.equal(code, 1000);
  t.match(JSON.parse(status), { status: 'Success' });
  t.equal(node.kubelet.execCount(), 1);
  const audit = await server.logs.waitFor((l) => l['msg'] === 'audit');
  t.match(audit, { listener: 'https', path: '/exec/default/demo/app', status: 101, nodeName: 'edge-a', bytesIn: Number, bytesOut: Number });
});

t.test('upgrade to an unknown node answers with the miss status', async (t) => {
  const server = await startServer(t, pki);
  const ws = new WebSocket(`wss://${server.addr.https.host}:${server.addr.https.port}/exec/default/demo/app?command=true`, ['v5.channel.k8s.io'], {
    ...callerTls,
    headers: { host: '127.0.20.99:10250' },
  });
  const status = await new Promise<number>((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
  t.equal(status, 502);
});
