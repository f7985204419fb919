// The kubelet-side WebSocket client of port-forward: messages that arrive before anyone listens
// (the kubelet's port prefaces often come in the same segment as the 101) are not lost.
import t from 'tap';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { WsClient } from '../src/kubelet-proxy-ws.js';

/** An unmasked server→client binary frame (payload < 126 bytes). */
const frame = (payload: Buffer): Buffer => Buffer.concat([Buffer.of(0x82, payload.length), payload]);

t.test('messages sent before the message listener is attached are delivered to it', async (t) => {
  const server = createServer((peer: Socket) => {
    // the port prefaces of channels 0 and 1, then the first data, all in one write
    peer.write(Buffer.concat([frame(Buffer.of(0, 0x50, 0x00)), frame(Buffer.of(1, 0x50, 0x00)), frame(Buffer.from('\u0000hello'))]));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(socket, 'connect');
  const ws = new WsClient(socket);
  // the caller attaches its handler only after a few turns of the event loop (an await chain)
  await new Promise((r) => setTimeout(r, 100));
  const got: Buffer[] = [];
  ws.on('message', (m: Buffer) => got.push(m));
  await new Promise((r) => setTimeout(r, 100));
  t.same(
    got.map((m) => [...m.subarray(0, 1)]),
    [[0], [1], [0]],
    'both prefaces and the data message, in order',
  );
  t.equal(got[2]?.subarray(1).toString(), 'hello');
  ws.close();
  socket.destroy();
});
