// The peer's close frame ends the Duplex at once. ws emits 'close' only when its closing handshake
// is over: after the peer's close frame it sends its own and waits for the peer to close TCP, up to
// closeTimeout (30 s). When the peer no longer reads (its socket backpressured) and we are sending,
// our close frame waits behind our bytes and a clean close 1000 reached the reader only after those
// 30 s (issue 17: "not seen as a loss for ≥ 10 s"); now at the frame. Loopback 127.0.191.x.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { MAX_MESSAGE_BYTES, WebSocketDuplex } from '../src/index.js';

const HOST = '127.0.191.9';

async function pair(t: Test): Promise<{ client: WebSocketDuplex; server: WebSocket }> {
  const wss = new WebSocketServer({ host: HOST, port: 0, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection');
  const ws = new WebSocket(`ws://${HOST}:${(wss.address() as AddressInfo).port}/`, { maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  await once(ws, 'open');
  const [server] = (await accepted) as [WebSocket];
  const client = new WebSocketDuplex(ws);
  t.teardown(() => {
    client.destroy();
    server.terminate();
    wss.close();
  });
  return { client, server };
}

/** Writes 64 KiB blocks into `d` as fast as it takes them, until it ends. */
function flood(d: WebSocketDuplex): void {
  const block = Buffer.alloc(64 * 1024, 1);
  const pump = (): void => {
    while (d.writable && d.write(block));
    if (d.writable) d.once('drain', pump);
  };
  pump();
}

t.test("a clean close (1000) from a peer that does not read, while we send: our end comes at its close frame, not at ws's close timeout", async (t) => {
  const { client, server } = await pair(t);
  server.pause(); // the peer reads nothing more: TCP holds our bytes, and our close frame behind them
  client.on('data', () => {});
  client.on('error', () => {});
  flood(client);
  await new Promise((r) => setTimeout(r, 300)); // our socket's buffers fill
  const closedAt = Date.now();
  server.close(1000, 'going away');
  const how = await Promise.race([
    once(client, 'end').then(() => 'end'),
    once(client, 'error').then(([e]) => `error: ${(e as Error).message}`),
    new Promise<string>((r) => setTimeout(() => r('nothing'), 5_000)),
  ]);
  const ms = Date.now() - closedAt;
  t.equal(how, 'end', `a clean close is an end (${how})`);
  t.ok(ms < 2_000, `seen ${ms} ms after the peer's close frame (ws's closing handshake would hold it 30 s)`);
});

t.test('an abnormal close code in the frame is an error at once, and one close only', async (t) => {
  const { client, server } = await pair(t);
  const errors: Error[] = [];
  client.on('error', (e: Error) => errors.push(e));
  client.on('data', () => {});
  server.close(4000, 'bye');
  await new Promise((r) => client.once('close', r));
  await new Promise((r) => setTimeout(r, 200)); // ws's own 'close' comes too: no second verdict
  t.equal(errors.length, 1, 'one error');
  t.match(errors[0]?.message, /websocket closed: 4000 bye/);
});
