// The Duplex over a real WebSocket pair on loopback: bytes arrive in order and complete both ways
// (checked by SHA-256), a slow reader pauses the sender (bounded buffering), a clean end is an end,
// an abnormal close an error.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { MAX_MESSAGE_BYTES, WebSocketDuplex } from '../src/index.js';

async function pair(): Promise<{ a: WebSocketDuplex; b: WebSocketDuplex; close: () => void }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_MESSAGE_BYTES });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, { maxPayload: MAX_MESSAGE_BYTES });
  await once(client, 'open');
  const [server] = (await accepted) as [WebSocket];
  return { a: new WebSocketDuplex(client), b: new WebSocketDuplex(server), close: () => wss.close() };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('8 MiB each way, many writes, equal bytes', async (t) => {
  const { a, b, close } = await pair();
  const data = randomBytes(8 * 1024 * 1024);
  const got: Buffer[] = [];
  b.on('data', (c: Buffer) => got.push(c));
  const ended = once(b, 'end');
  a.cork();
  for (let i = 0; i < data.length; i += 16_384) a.write(data.subarray(i, i + 16_384));
  a.uncork();
  a.end();
  await ended;
  t.equal(sha(Buffer.concat(got)), sha(data));
  b.destroy();
  close();
});

t.test('a reader that stops reading pauses the sender', async (t) => {
  const { a, b, close } = await pair();
  b.pause();
  let written = 0;
  let stalled = false;
  const chunk = randomBytes(64 * 1024);
  while (written < 256 * 1024 * 1024) {
    written += chunk.length;
    if (a.write(chunk)) continue;
    const drained = await Promise.race([once(a, 'drain').then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
    if (!drained) {
      stalled = true;
      break;
    }
  }
  // without the pause, ws would buffer every message the reader has not taken: no stall at all
  t.ok(stalled, `the writer stalled after ${(written / 1048576).toFixed(1)} MiB`);
  t.ok(written < 64 * 1024 * 1024);
  a.destroy();
  b.destroy();
  close();
});

t.test('an abnormal close is an error, not an end', async (t) => {
  const { a, b, close } = await pair();
  const err = once(b, 'error');
  a.on('error', () => {});
  a.destroy(new Error('boom'));
  const [e] = (await err) as [Error];
  t.match(e.message, /websocket closed: 1006/);
  close();
});
