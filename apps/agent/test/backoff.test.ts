import t from 'tap';
import { backoffCeiling, fullJitter } from '../src/backoff.js';

t.test('ceiling doubles from base and stops at max', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 60].map((a) => backoffCeiling(a, 500, 4000)), [500, 1000, 2000, 4000, 4000, 4000, 4000]);
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
