import t from 'tap';
import { Backoff, backoffCeiling, fullJitter } from '../src/backoff.js';

t.test('ceiling doubles from base and stops at max', async (t) => {
  t.same(
    [0, 1, 2, 3, 4, 5, 60].map((a) => backoffCeiling(a, 500, 4000)),
    [500, 1000, 2000, 4000, 4000, 4000, 4000],
  );
});

t.test('full jitter spans [0, ceiling)', async (t) => {
  t.equal(fullJitter(3, { baseMs: 500, maxMs: 30_000, random: () => 0 }), 0);
  t.equal(fullJitter(3, { baseMs: 500, maxMs: 30_000, random: () => 0.999999 }), 3999);
  t.equal(fullJitter(20, { baseMs: 500, maxMs: 30_000, random: () => 0.5 }), 15_000);
  for (let i = 0; i < 200; i++) {
    const d = fullJitter(i % 8, { baseMs: 100, maxMs: 5000 });
    t.ok(d >= 0 && d < backoffCeiling(i % 8, 100, 5000), `sample ${d}`, { diagnostic: false });
  }
});

t.test('Backoff: a lost session spreads the redials over the window, then backs off from base', async (t) => {
  let now = 0;
  const b = new Backoff({ baseMs: 500, maxMs: 4000, spreadMs: 5000, random: () => 0.999999, now: () => now });
  t.same([b.next(), b.next()], [499, 999], 'a first start and failed attempts: full jitter, no spread');
  b.sessionLost();
  t.equal(b.next(), 4999, 'the first redial: random(0, 5000)');
  now = 3000;
  t.equal(b.next(), 1999, 'refused inside the window: a uniform time in the 2000 ms left');
  now = 4600;
  t.same([b.next(), b.next(), b.next(), b.next()], [499, 999, 1999, 3999], '500 ms or less left: full jitter from base');
  b.sessionLost();
  b.reset();
  t.equal(b.next(), 499, 'reset (a long refused session) closes the window and restarts the backoff');
});

t.test('Backoff: the spread is uniform over [0, spreadMs); 0 turns it off (full jitter from base)', async (t) => {
  const samples = Array.from({ length: 10 }, (_, i) => {
    const b = new Backoff({ baseMs: 500, maxMs: 30_000, spreadMs: 5000, random: () => i / 10, now: () => 0 });
    b.sessionLost();
    return b.next();
  });
  t.same(samples, [0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500]);
  const small = new Backoff({ baseMs: 500, maxMs: 30_000, spreadMs: 200, random: () => 0.999999, now: () => 0 });
  small.sessionLost();
  t.same([small.next(), small.next()], [199, 499], 'a window below base still spreads the first redial');
  const off = new Backoff({ baseMs: 500, maxMs: 30_000, spreadMs: 0, random: () => 0.999999 });
  off.next();
  off.next();
  off.sessionLost();
  t.same([off.next(), off.next()], [499, 999], 'spread 0: the old schedule (attempt 0, 1 …)');
});
