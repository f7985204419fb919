// The dead-peer verdict: no byte for timeoutMs, but never sooner than 4 × the smoothed round trip,
// so a slow link (a PONG queued behind bulk) is not declared dead.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keepalive, type KeepaliveOwner } from '../src/keepalive.js';

function owner(srttMs: number | undefined): KeepaliveOwner & { dead: number[]; pings: number } {
  return {
    dead: [],
    pings: 0,
    keepalivePing() {
      this.pings += 1;
    },
    keepaliveSrttMs: () => srttMs,
    keepaliveDead(idleMs: number) {
      this.dead.push(idleMs);
    },
  };
}

t.test('without a round-trip sample the verdict comes after timeoutMs', async (t) => {
  const o = owner(undefined);
  const k = new Keepalive(20, 80, o);
  k.start();
  await sleep(250);
  k.stop();
  t.equal(o.dead.length, 1);
  t.ok(o.dead[0]! >= 80, `dead after ${o.dead[0]} ms`);
  t.ok(o.pings >= 2, `${o.pings} pings`);
});

t.test('a smoothed round trip of 100 ms holds the verdict to 400 ms', async (t) => {
  const o = owner(100);
  const k = new Keepalive(20, 80, o);
  k.start();
  await sleep(250);
  t.same(o.dead, [], 'not dead at 250 ms (timeout 80 ms, 4 × srtt 400 ms)');
  await sleep(350);
  k.stop();
  t.equal(o.dead.length, 1);
  t.ok(o.dead[0]! >= 400, `dead after ${o.dead[0]} ms`);
});

t.test('bytes from the peer keep it alive', async (t) => {
  const o = owner(undefined);
  const k = new Keepalive(20, 80, o);
  k.start();
  const touching = setInterval(() => k.touch(), 20);
  await sleep(250);
  clearInterval(touching);
  k.stop();
  t.same(o.dead, []);
});
