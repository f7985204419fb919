import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import type WebSocket from 'ws';
import { collect, openChannels } from './fixtures/channel-client.js';
import { startTestKubelet, waitFor } from './fixtures/kubelet.js';

async function echoServer(t: Test): Promise<number> {
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

function frames(ws: WebSocket): Buffer[] {
  const list: Buffer[] = [];
  ws.on('message', (data: Buffer) => list.push(Buffer.from(data)));
  return list;
}

t.test('port-forward carries bytes to a local TCP server and back', async (t) => {
  const kubelet = await startTestKubelet(t);
  const port = await echoServer(t);
  const ws = await openChannels(kubelet, `/portForward/default/demo?port=${port}`, ['v4.channel.k8s.io']);
  t.equal(ws.protocol, 'v4.channel.k8s.io');
  const got = frames(ws);
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16LE(port);
  await waitFor(() => got.length >= 2, 1000, 'port prefixes');
  t.same(got.slice(0, 2), [Buffer.concat([Buffer.from([0]), portBytes]), Buffer.concat([Buffer.from([1]), portBytes])]);

  const payload = randomBytes(300 * 1024);
  for (let i = 0; i < payload.length; i += 32 * 1024) ws.send(Buffer.concat([Buffer.from([0]), payload.subarray(i, i + 32 * 1024)]));
  const echoed = (): Buffer =>
    Buffer.concat(
      got
        .slice(2)
        .filter((f) => f[0] === 0)
        .map((f) => f.subarray(1)),
    );
  await waitFor(() => echoed().length >= payload.length, 3000, 'echoed bytes');
  t.ok(echoed().equals(payload), 'bytes come back unchanged');
  t.notOk(
    got.slice(2).some((f) => f[0] === 1),
    'nothing on the error channel',
  );
  ws.close();
});

t.test('port-forward reports a refused port on the error channel', async (t) => {
  const kubelet = await startTestKubelet(t);
  const port = await echoServer(t);
  // A port nobody listens on: take one from a closed listener.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  const ws = await openChannels(kubelet, `/portForward/default/demo?port=${deadPort}`, []);
  const result = await collect(ws);
  t.match(result.text(1), /error forwarding port \d+ to pod demo, uid : connect ECONNREFUSED/);
  t.equal(result.closeCode, 1000, 'closed once its only port is done');

  await t.rejects(openChannels(kubelet, `/portForward/default/demo`, ['v4.channel.k8s.io']), /unexpected response 400/);
  await t.rejects(openChannels(kubelet, `/portForward/default/nope?port=${port}`, ['v4.channel.k8s.io']), /unexpected response 404/);
});
