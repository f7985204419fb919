// paceForTurn / corkForTurn: bulk leaves at the turn's end in one batch; a small write leads its turn.
import t from 'tap';
import { Writable } from 'node:stream';
import { LEAD_MAX, corkForTurn, paceForTurn } from '../src/cork.js';

function batchingSink(batches: number[][]): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    writev: (chunks, cb) => (batches.push(chunks.map((c) => (c.chunk as Buffer).length)), cb()),
    write: (chunk: Buffer, _enc, cb) => (batches.push([chunk.length]), cb()),
  });
}

function write(sink: Writable, n: number): void {
  corkForTurn(sink, n);
  sink.write(Buffer.alloc(n));
}

const tick = () => new Promise<void>((r) => process.nextTick(r));
const turnEnd = () => new Promise<void>((r) => setImmediate(r));

t.test('bulk: the writes of a turn, over several callbacks, leave as one batch at its end', async (t) => {
  const batches: number[][] = [];
  const sink = batchingSink(batches);
  write(sink, 16_372);
  await tick(); // the next TLS record's callback, same turn
  write(sink, 16_372);
  write(sink, 100);
  await tick();
  t.same(batches, [], 'nothing leaves before the turn ends');
  await turnEnd();
  t.same(batches, [[16_372, 16_372, 100]]);
  write(sink, 5);
  await turnEnd();
  t.same(batches, [[16_372, 16_372, 100], [5]], 'the next turn starts another batch');
});

t.test('a small first write leads: what its callback wrote leaves once the callback returns', async (t) => {
  const batches: number[][] = [];
  const sink = batchingSink(batches);
  write(sink, 64);
  write(sink, 200);
  t.same(batches, [], 'nothing leaves inside the callback');
  await tick();
  t.same(batches, [[64, 200]], 'one batch right after the callback, no wait for the turn to end');
  await turnEnd();
});

t.test('a key leads once a turn: its later small writes wait for the turn to end; the next turn leads again', async (t) => {
  const batches: number[][] = [];
  const sink = batchingSink(batches);
  write(sink, 1);
  await tick();
  write(sink, 2);
  await tick();
  write(sink, 3);
  await tick();
  t.same(batches, [[1]], 'the second and third callbacks wait');
  await turnEnd();
  t.same(batches, [[1], [2, 3]], 'and leave together at the turn end');
  write(sink, 4);
  await tick();
  t.same(batches, [[1], [2, 3], [4]], 'a new turn leads again');
  await turnEnd();
});

t.test(`a write over ${LEAD_MAX} bytes never leads; keys pace separately`, async (t) => {
  const order: string[] = [];
  const a = {};
  const b = {};
  const c = {};
  paceForTurn(a, 64, () => order.push('a1'), a);
  paceForTurn(a, 64, () => order.push('a2'), a);
  paceForTurn(b, LEAD_MAX, () => order.push('b1'), b);
  paceForTurn(c, LEAD_MAX + 1, () => order.push('c1'), c);
  await tick();
  t.same(order, ['a1', 'b1'], 'each small key runs after the callback');
  await turnEnd();
  t.same(order, ['a1', 'b1', 'a2', 'c1'], "a's second and the large one wait for the turn's end");
});
