// Flow-control arithmetic: when credit is granted, how windows grow, how much may be sent.
import t from 'tap';
import { creditLeft, grantDue, grownWindow, windowLimited } from '../src/flow.js';

const W = 256 * 1024;

t.test('grantDue: an update once the limit would move by a quarter window', async (t) => {
  t.equal(grantDue(0, W, W), 0, 'nothing consumed: nothing due');
  t.equal(grantDue(W / 4 - 1, W, W), 0, 'just under a quarter: not yet');
  t.equal(grantDue(W / 4, W, W), W / 4 + W, 'exactly a quarter: grant consumed + window');
  t.equal(grantDue(W, W, W), 2 * W, 'a whole window consumed');
  t.equal(grantDue(10 * W, W, 10 * W + (7 * W) / 8), 0, 'the limit would move by only an eighth');
  t.equal(grantDue(10 * W, W, 10 * W + W / 2), 11 * W, 'by half a window: due');
  t.equal(grantDue(100, W, 100 + W), 0, 'the offset never moves backwards');
});

t.test('grantDue: after growth the bigger window is granted at once', async (t) => {
  // consumed nothing new, but the window doubled: the peer may now send a further W
  t.equal(grantDue(W, 2 * W, 2 * W), 3 * W);
});

t.test('grantDue: offsets stay exact beyond 2^32', async (t) => {
  const consumed = 2 ** 40 + 12345;
  t.equal(grantDue(consumed, W, consumed), consumed + W);
});

t.test('grownWindow: doubles when the consumer keeps up', async (t) => {
  t.equal(grownWindow(W, 0, 16 * W, Infinity), 2 * W);
  t.equal(grownWindow(W, W / 2, 16 * W, Infinity), 2 * W, 'half a window unread still counts as keeping up');
});

t.test('grownWindow: unchanged when the consumer is behind', async (t) => {
  t.equal(grownWindow(W, W / 2 + 1, 16 * W, Infinity), W);
  t.equal(grownWindow(W, W, 16 * W, Infinity), W);
});

t.test('grownWindow: capped by maxWindow and by the session budget', async (t) => {
  t.equal(grownWindow(W, 0, W + 1000, Infinity), W + 1000, 'maxWindow caps');
  t.equal(grownWindow(W, 0, W, Infinity), W, 'maxWindow = window: no growth');
  t.equal(grownWindow(W, 0, 16 * W, 5000), W + 5000, 'budget left caps');
  t.equal(grownWindow(W, 0, 16 * W, 0), W, 'no budget left: no growth');
  t.equal(grownWindow(W, 0, 16 * W, -100), W, 'an overcommitted budget never shrinks the window');
});

t.test('grownWindow: repeated growth reaches maxWindow and stops', async (t) => {
  let w = 64 * 1024;
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) seen.push((w = grownWindow(w, 0, 1024 * 1024, Infinity)));
  t.same(
    seen.slice(0, 5),
    [128, 256, 512, 1024, 1024].map((k) => k * 1024),
  );
  t.equal(w, 1024 * 1024);
});

t.test('creditLeft', async (t) => {
  t.equal(creditLeft(W, 0), W);
  t.equal(creditLeft(W, W - 1), 1);
  t.equal(creditLeft(W, W), 0);
  t.equal(creditLeft(W, W + 10), 0, 'never negative');
  t.equal(creditLeft(2 ** 40, 2 ** 40 - 5), 5, 'exact past 2^32');
});

t.test('windowLimited: grow only when a window drains within 2 round trips', async (t) => {
  t.equal(windowLimited(1000, W, W, undefined), true, 'no RTT sample yet: grow as before');
  t.equal(windowLimited(1, W / 2 - 1, W, 0.2), undefined, 'less than half a window consumed: too little to judge');
  t.equal(windowLimited(19, 4 * W, W, 20), undefined, 'an epoch shorter than a round trip: stale BLOCKED reports, judge later');
  t.equal(windowLimited(30, W, W, 20), true, 'RTT 20 ms: a window in 30 ms is link-bound');
  t.equal(windowLimited(39, W, W, 20), true, 'just under 2 RTTs');
  t.equal(windowLimited(40, W, W, 20), false, 'exactly 2 RTTs: the window is not what limits');
  t.equal(windowLimited(1, W, W, 0.1), false, 'loopback (RTT 0.1 ms), a window per ms: CPU-bound, keep it');
  t.equal(windowLimited(25, 2 * W, W, 20), true, 'two windows in 25 ms at RTT 20 ms: rate × 2 RTT > window');
});
