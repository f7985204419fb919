// splice(): the one-direction byte pump both relays use instead of pipe(). Backpressure (a slow
// writer pauses the reader, nothing lost), half-close each way over real sockets, a destroyed
// destination, hooks, and stop().
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { splice, type Splice } from '../src/splice.js';
import { readAll, within } from './fixtures/streams.js';
import { tcpPair } from './fixtures/transports.js';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

t.test('a slow writer pauses the reader: 4 MiB arrive intact, the writer never holds more than a chunk over its mark', async (t) => {
  const data = randomBytes(4 * MiB);
  const chunk = 64 * 1024;
  const from = Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
    })(),
    { objectMode: false },
  );
  const got: Buffer[] = [];
  let maxQueued = 0;
  const to = new Writable({
    highWaterMark: 16 * 1024,
    write(b: Buffer, _enc, cb) {
      got.push(b);
      maxQueued = Math.max(maxQueued, this.writableLength);
      setTimeout(cb, 0); // a writer slower than the reader
    },
  });
  let pauses = 0;
  from.on('pause', () => pauses++);
  const s = splice(from, to);
  await within(new Promise((r) => to.once('finish', r)), 20_000, 'the writer finished');
  const all = Buffer.concat(got);
  t.equal(all.length, data.length, 'nothing lost');
  t.equal(sha(all), sha(data), 'SHA-256 equal');
  t.equal(s.bytes, data.length, 'bytes counts what was read');
  t.ok(pauses >= 10, `the reader was paused ${pauses} times`);
  t.ok(maxQueued <= 16 * 1024 + chunk, `the writer queued at most ${maxQueued} B (without backpressure: up to 4 MiB)`);
});

t.test('half-close over TCP: each FIN crosses on its own, the other direction keeps flowing', async (t) => {
  const [callerA, relayA] = await tcpPair(t);
  const [relayB, targetB] = await tcpPair(t);
  const events = ['data', 'end', 'drain', 'close', 'finish', 'error', 'unpipe'];
  const count = (s: Socket): number => events.reduce((n, e) => n + s.listenerCount(e), 0);
  const before = count(relayA) + count(relayB);
  splice(relayA, relayB);
  splice(relayB, relayA);
  t.equal(count(relayA) + count(relayB) - before, 6, 'three listeners per direction (pipe() adds six, seven once it waited for drain)');
  const atTarget = readAll(targetB);
  callerA.end('request');
  t.equal((await within(atTarget, 5000, 'the caller FIN at the target')).toString(), 'request');
  t.equal(relayB.writableEnded, true, 'the relay ended its upstream write side');
  const atCaller = readAll(callerA);
  const big = randomBytes(MiB);
  targetB.write(big);
  targetB.end('done');
  const back = await within(atCaller, 5000, 'the target FIN at the caller');
  t.equal(sha(back), sha(Buffer.concat([big, Buffer.from('done')])), 'a MiB and the FIN after the caller half-closed');
});

t.test('a destroyed destination: later chunks and the end are dropped, nothing throws or errors', async (t) => {
  const from = new PassThrough();
  const to = new PassThrough();
  const errors: Error[] = [];
  to.on('error', (e) => errors.push(e));
  const s = splice(from, to);
  from.write('one');
  await new Promise((r) => setImmediate(r));
  to.destroy();
  from.write('two');
  from.end('three');
  await new Promise((r) => from.once('end', r));
  t.equal(s.bytes, 11, 'every chunk read was counted');
  t.same(errors, [], 'no write-after-destroy error');
});

t.test('a destination its owner ended: later chunks are dropped without a write-after-end error', async (t) => {
  const from = new PassThrough();
  const to = new PassThrough();
  const errors: Error[] = [];
  to.on('error', (e) => errors.push(e));
  const out = readAll(to);
  splice(from, to);
  to.end('last');
  from.end('dropped');
  await new Promise((r) => from.once('end', r));
  t.equal((await out).toString(), 'last');
  t.same(errors, [], 'no ERR_STREAM_WRITE_AFTER_END');
});

t.test('the hook sees each chunk before it is counted', async (t) => {
  const from = new PassThrough();
  const to = new PassThrough();
  const seen: string[] = [];
  splice(from, to, {
    onData: (chunk, sp: Splice) => seen.push(`${chunk.toString()}@${sp.bytes}`),
  });
  const out = readAll(to);
  from.write('ab');
  await new Promise((r) => setImmediate(r));
  from.end('cde');
  t.equal((await out).toString(), 'abcde');
  t.same(seen, ['ab@0', 'cde@2']);
});

t.test('stop() detaches both ways and pauses the source', async (t) => {
  const from = new PassThrough();
  const to = new PassThrough();
  const s = splice(from, to);
  s.stop();
  t.equal(from.listenerCount('data') + from.listenerCount('end') + to.listenerCount('drain'), 0);
  t.equal(from.isPaused(), true);
  from.end('late');
  t.equal(to.read(), null, 'nothing reaches the destination after stop()');
});

t.test('a stream is read by one splice and written by one: a second throws, stop() frees it', async (t) => {
  const from = new PassThrough();
  const to = new PassThrough();
  const other = new PassThrough();
  const s = splice(from, to);
  t.throws(() => splice(from, other), /already spliced/, 'a second reader of `from`');
  t.throws(() => splice(other, to), /already spliced/, 'a second writer of `to`');
  t.doesNotThrow(() => splice(to, from), 'the other direction is its own splice');
  s.stop();
  const again = splice(from, other);
  const out = readAll(other);
  from.end('after stop');
  t.equal((await out).toString(), 'after stop', 'the new splice carries the data');
  t.equal(again.bytes, 10);
});
