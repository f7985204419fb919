#!/usr/bin/env node
// node perf/framing/keepalive-burst.mjs [keepalives=10000] [dist=libs/framing/dist/keepalive.js]
// The most PINGs one tick of the shared keepalive timer sends when N keepalives start together (as a
// server's sessions do after a restart): interval 1 s, timeout 3 s, 6 s, peers always alive. A PING
// is a TLS write on a real session, so this is the longest run of them the event loop does at once.
// Finding: perf/findings/2026-12-07-scrape-10000-nodes.md (one tick checking all: 10 000; 1/64 per tick: 147).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const n = Number(process.argv[2] ?? 10_000);
const dist = resolve(process.argv[3] ?? new URL('../../libs/framing/dist/keepalive.js', import.meta.url).pathname);
const { Keepalive } = /** @type {typeof import('../../libs/framing/dist/keepalive.js')} */ (await import(pathToFileURL(dist).href));
let inTick = 0;
let maxTick = 0;
let pings = 0;
const flush = () => ((maxTick = Math.max(maxTick, inTick)), (inTick = 0));
/** @type {import('../../libs/framing/dist/keepalive.js').KeepaliveOwner} */
const owner = {
  keepalivePing() {
    if (inTick === 0) setImmediate(flush);
    inTick++;
    pings++;
  },
  keepaliveSrttMs: () => undefined,
  keepaliveDead() {},
};
const all = Array.from({ length: n }, () => new Keepalive(1000, 3000, owner));
for (const k of all) k.start();
const alive = setInterval(() => all.forEach((k) => k.touch()), 200);
await new Promise((r) => setTimeout(r, 6000));
clearInterval(alive);
for (const k of all) k.stop();
console.log(`${n} keepalives (${dist}), interval 1 s, 6 s: ${pings} PINGs, at most ${maxTick} in one tick`);
