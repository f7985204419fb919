// The agent's sending side (masksEveryMessage): batches of many small writes are gathered into one
// reused buffer that ws masks into a copy of its own, so nothing of a message may change once `send`
// returned. Batches larger than MAX_SEND_BYTES become several messages gathered into the same buffer
// within one write, written faster than the reader takes them: every byte must still arrive as sent.
// And the masking keys: random, never 0000 (ws sends a 0000-keyed frame without copying it).
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { MAX_MESSAGE_BYTES, MAX_SEND_BYTES, WebSocketDuplex, nonZeroMask } from '../src/index.js';

async function pair(perMessageDeflate = false): Promise<{ a: WebSocketDuplex; b: WebSocketDuplex; messages: () => number; close: () => void }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, {
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate,
    generateMask: nonZeroMask,
  } as ConstructorParameters<typeof WebSocket>[2]);
  await once(client, 'open');
  const [server] = (await accepted) as [WebSocket];
  let count = 0;
  server.on('message', () => count++);
  return { a: new WebSocketDuplex(client, { masksEveryMessage: true }), b: new WebSocketDuplex(server), messages: () => count, close: () => wss.close() };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** 6 corked batches of 9-byte and 16 KiB pieces (a DATA frame's header and payload), each 2.4 MiB, read late */
async function sendBatches(a: WebSocketDuplex, b: WebSocketDuplex): Promise<{ data: Buffer; got: Buffer; pieces: number }> {
  const got: Buffer[] = [];
  b.pause();
  const sent: Buffer[] = [];
  for (let batch = 0; batch < 6; batch++) {
    a.cork();
    for (let i = 0; i < 150; i++) {
      const head = randomBytes(9);
      const piece = randomBytes(16 * 1024);
      sent.push(head, piece);
      a.write(head);
      a.write(piece);
    }
    process.nextTick(() => a.uncork());
    await new Promise((r) => setImmediate(r));
  }
  a.end();
  await new Promise((r) => setTimeout(r, 200));
  b.on('data', (c: Buffer) => got.push(c));
  b.resume();
  await once(b, 'end');
  return { data: Buffer.concat(sent), got: Buffer.concat(got), pieces: sent.length };
}

t.test('batches gathered into one reused buffer arrive intact, also when a batch is several messages', async (t) => {
  const { a, b, messages, close } = await pair();
  const { data, got, pieces } = await sendBatches(a, b);
  t.equal(got.length, data.length, 'every byte arrived');
  t.equal(sha(got), sha(data), 'in order and unchanged');
  // each batch alone is over MAX_SEND_BYTES: at least the total ÷ MAX_SEND_BYTES messages, more than one per batch
  t.ok(messages() >= Math.ceil(data.length / MAX_SEND_BYTES) && messages() > 6, `batches over MAX_SEND_BYTES were split (${messages()} messages)`);
  t.ok(messages() < pieces / 50, 'pieces were gathered, not sent one message each');
  b.destroy();
  close();
});

t.test('with permessage-deflate negotiated (ws queues messages uncopied) the buffer is not reused: bytes intact', async (t) => {
  const { a, b, close } = await pair(true);
  const { data, got } = await sendBatches(a, b);
  t.equal(sha(got), sha(data), 'in order and unchanged');
  b.destroy();
  close();
});

t.test('masking keys are random and never 0000', async (t) => {
  const mask = Buffer.alloc(4);
  const seen = new Set<number>();
  let zero = 0;
  for (let i = 0; i < 100_000; i++) {
    nonZeroMask(mask);
    const v = mask.readUInt32BE(0);
    if (v === 0) zero++;
    seen.add(v);
  }
  t.equal(zero, 0);
  t.ok(seen.size > 99_000, `${seen.size} distinct keys of 100 000`);
});
