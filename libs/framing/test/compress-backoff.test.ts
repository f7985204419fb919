// How often a stream tries to compress while compression does not pay (src/compress-backoff.ts).
import t from 'tap';
import { CompressBackoff, MISSES, SKIP_FIRST, SKIP_MAX } from '../src/compress-backoff.js';

/** attempts made over `frames` frames when every attempt pays (true) or none does (false) */
function attempts(b: CompressBackoff, frames: number, paid: (i: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < frames; i++) {
    if (!b.shouldTry()) continue;
    n++;
    b.note(paid(i));
  }
  return n;
}

t.test('every frame is tried while compression pays', async (t) => {
  t.equal(
    attempts(new CompressBackoff(), 10_000, () => true),
    10_000,
  );
});

t.test('incompressible: MISSES tries, then skips that double up to SKIP_MAX', async (t) => {
  const b = new CompressBackoff();
  const tried: number[] = [];
  for (let i = 0; i < 20_000; i++)
    if (b.shouldTry()) {
      tried.push(i);
      b.note(false);
    }
  t.same(tried.slice(0, MISSES), [0, 1, 2, 3], 'the first misses are tried back to back');
  const gaps = tried
    .slice(MISSES - 1, 10)
    .map((x, i, a) => (i ? x - a[i - 1] - 1 : 0))
    .slice(1);
  t.same(gaps, [SKIP_FIRST, 2 * SKIP_FIRST, 4 * SKIP_FIRST, 8 * SKIP_FIRST, SKIP_MAX, SKIP_MAX], 'then skips of 64, 128, 256, 512, 1024, 1024 frames');
  t.ok(tried.length < 30, `${tried.length} attempts in 20 000 frames (the old fixed skip of 64: ~1 170)`);
});

t.test('a stream that turns compressible is tried again within SKIP_MAX frames and then on every frame', async (t) => {
  const b = new CompressBackoff();
  attempts(b, 50_000, () => false);
  let firstPaid = -1;
  const n = attempts(b, 5_000, (i) => {
    if (firstPaid < 0) firstPaid = i;
    return true;
  });
  t.ok(firstPaid >= 0 && firstPaid <= SKIP_MAX, `the first attempt came after ${firstPaid} frames`);
  t.equal(n, 5_000 - firstPaid, 'every frame after it is tried');
});

t.test('one frame that pays resets the skip to SKIP_FIRST', async (t) => {
  const b = new CompressBackoff();
  attempts(b, 50_000, () => false); // the skip is at SKIP_MAX now
  while (!b.shouldTry());
  b.note(true);
  const tried: number[] = [];
  for (let i = 0; i < 1_000; i++)
    if (b.shouldTry()) {
      tried.push(i);
      b.note(false);
    }
  t.same(tried.slice(0, MISSES), [0, 1, 2, 3], 'MISSES tries again before skipping');
  t.equal(tried[MISSES] - tried[MISSES - 1] - 1, SKIP_FIRST, 'and the first skip is SKIP_FIRST again');
});
