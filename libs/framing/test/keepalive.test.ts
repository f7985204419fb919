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
  // a timeout well above the touches' period: a loaded machine delays the touching timer too
  const k = new Keepalive(20, 300, o);
  k.start();
  const touching = setInterval(() => k.touch(), 20);
  await sleep(700);
  clearInterval(touching);
  k.stop();
  t.same(o.dead, []);
});

t.test('keepalives started together are checked, and ping, spread over the check period', async (t) => {
  // when one tick checked every keepalive, sessions that attached in one burst pinged in the same
  // macrotask (one TLS write each)
  const started = Date.now();
  const first = new Map<number, number>();
  const all = Array.from({ length: 100 }, (_, i) => {
    const k = new Keepalive(400, 1600, { ...owner(undefined), keepalivePing: () => void (first.has(i) || first.set(i, Date.now() - started)) });
    k.start();
    return k;
  });
  const touching = setInterval(() => all.forEach((k) => k.touch()), 100);
  await sleep(1000);
  clearInterval(touching);
  for (const k of all) k.stop();
  t.equal(first.size, 100, 'every keepalive pinged within two check periods');
  const times = [...first.values()];
  t.ok(Math.min(...times) >= 400, `no PING before the interval (first at ${Math.min(...times)} ms)`);
  const spread = Math.max(...times) - Math.min(...times);
  t.ok(spread >= 200, `first PINGs spread over ${spread} ms of the 400 ms check period`);
});
