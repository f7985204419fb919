// IdleSweep: one timer per idle limit for every relay with that limit; a relay whose byte count did not
// move for 4 ticks (limit to 1.25 × limit) is closed once; the timer runs only while it has relays.
import t from 'tap';
import { IdleSweep, type IdleWatched } from '../src/idle-sweep.js';

class Fake implements IdleWatched {
  bytes = 0;
  closed: number[] = [];
  closeIdle(ms: number): void {
    this.closed.push(ms);
  }
}

t.test('four quiet ticks close a relay once; a moving byte count keeps it', async (t) => {
  const sweep = IdleSweep.of(1_000_000); // its own timer never fires during the test: ticks are driven
  const quiet = new Fake();
  const busy = new Fake();
  sweep.add(quiet);
  sweep.add(busy);
  for (let i = 0; i < 3; i++) {
    busy.bytes += 1;
    sweep.tick();
  }
  t.same(quiet.closed, [], 'three quiet ticks: still open');
  busy.bytes += 1;
  sweep.tick();
  t.same(quiet.closed, [1_000_000], 'the fourth closes it, with the limit');
  t.same(busy.closed, [], 'the busy one stays');
  for (let i = 0; i < 8; i++) sweep.tick();
  t.same(quiet.closed, [1_000_000], 'closed once, then forgotten');
  t.same(busy.closed, [1_000_000], 'the busy one, quiet now, closes after its own four ticks');
});

t.test('a byte resets the count of quiet ticks', async (t) => {
  const sweep = IdleSweep.of(2_000_000);
  const r = new Fake();
  sweep.add(r);
  sweep.tick();
  sweep.tick();
  sweep.tick();
  r.bytes = 5;
  sweep.tick();
  sweep.tick();
  sweep.tick();
  sweep.tick();
  t.same(r.closed, [], 'three quiet ticks after the byte');
  sweep.tick();
  t.same(r.closed, [2_000_000]);
});

t.test('the real timer closes a silent relay after limit … 1.25 × limit, and deleted relays never', async (t) => {
  const sweep = IdleSweep.of(200);
  const silent = new Fake();
  const gone = new Fake();
  const keepAlive = setTimeout(() => {}, 5000); // the sweep's timer is unref'd: it keeps no process alive
  t.teardown(() => clearTimeout(keepAlive));
  const started = performance.now();
  sweep.add(silent);
  sweep.add(gone);
  sweep.delete(gone);
  await new Promise<void>((resolve) => {
    silent.closeIdle = (ms) => {
      silent.closed.push(ms);
      resolve();
    };
  });
  const after = performance.now() - started;
  t.ok(after >= 190 && after < 1000, `closed after ${after.toFixed(0)} ms`);
  t.same(gone.closed, [], 'a deleted relay is never closed');
  t.equal(IdleSweep.of(200), sweep, 'one sweep per limit');
});

t.test('byte counts far beyond 32 bits: one more byte is still activity, a steady count still goes quiet', async (t) => {
  const sweep = IdleSweep.of(3_000_000);
  const big = new Fake();
  big.bytes = 2 ** 45 + 3; // 32 TiB moved: the packed count (bytes × 8 + ticks) stays exact
  sweep.add(big);
  for (let i = 0; i < 3; i++) sweep.tick();
  big.bytes += 1;
  sweep.tick();
  t.same(big.closed, [], 'a single byte after three quiet ticks keeps it open');
  for (let i = 0; i < 3; i++) sweep.tick();
  t.same(big.closed, [], 'three quiet ticks again: open');
  sweep.tick();
  t.same(big.closed, [3_000_000], 'the fourth closes it');
});
