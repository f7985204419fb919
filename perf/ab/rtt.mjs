#!/usr/bin/env node
// 64-byte ping-pong through built chains (the bench's echoStream), two ways:
//   curve: each chain started fresh, p50 per block of pings from the first one on (the JIT warm-up)
//     node perf/ab/rtt.mjs curve <blocks> <pings per block> name=<perf/lib dir>[:chain] ...
//   ab: every chain started once and warmed (5 000 pings), then rounds alternate between them (paired.mjs
//       pairedRtt); the median of the rounds' p50s, and of the per-round ratios to the first chain
//     node perf/ab/rtt.mjs ab <rounds> <pings> name=<perf/lib dir>[:chain] ...
// e.g. node perf/ab/rtt.mjs curve 12 500 et=perf/lib floor=perf/lib:floor tls=perf/lib:tls-relay
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const M = fileURLToPath(new URL('../lib', import.meta.url));
const [mode, a, b, ...specs] = process.argv.slice(2);
if (!['curve', 'ab'].includes(mode) || !specs.length) {
  process.stderr.write('usage: rtt.mjs curve|ab <blocks|rounds> <pings> name=<perf/lib dir>[:chain] ...\n');
  process.exit(2);
}
const { makeCerts } = /** @type {typeof import('../lib/certs.mjs')} */ (await import(`${M}/certs.mjs`));
const { NODE } = /** @type {typeof import('../lib/chains/edge-tunnel.mjs')} */ (await import(`${M}/chains/edge-tunnel.mjs`));
const { spawnHelper } = /** @type {typeof import('../lib/chains/util.mjs')} */ (await import(`${M}/chains/util.mjs`));
const { connectTo, echoStream } = /** @type {typeof import('../lib/client.mjs')} */ (await import(`${M}/client.mjs`));
const { pairedRtt, pingP50 } = /** @type {typeof import('../lib/paired.mjs')} */ (await import(`${M}/paired.mjs`));
const tmp = mkdtempSync(join(tmpdir(), 'rtt-'));
const certs = await makeCerts(join(tmp, 'pki'), [NODE]);
const sink = await spawnHelper('sink', 'sink.mjs', [NODE.ip]);

/** @param {string} spec name=<perf/lib dir>[:chain] */
async function chainOf(spec) {
  const [name, rest] = spec.split('=');
  const [libDir, chainName = 'edge-tunnel'] = rest.split(':');
  const { allChains } = /** @type {typeof import('../lib/chains/index.mjs')} */ (await import(`${resolve(libDir)}/chains/index.mjs`));
  const vt = join(tmp, name);
  mkdirSync(vt);
  const chain = allChains({ tmp: vt, certs, sink: { host: NODE.ip, port: sink.port }, logLevel: 'info' }).chains.find((c) => c.name === chainName);
  return { name, chain };
}

try {
  if (mode === 'curve') {
    for (const spec of specs) {
      const { name, chain } = await chainOf(spec);
      const echo = await echoStream(await connectTo((await chain.start({})).endpoint));
      /** @type {number[]} */
      const blocks = [];
      for (let i = 0; i < +a; i++) blocks.push(await pingP50(echo, +b));
      console.log(`${name.padEnd(8)} p50 per ${b} pings: ${blocks.map((x) => x.toFixed(3)).join(' ')}`);
      echo.close();
      await chain.stop();
    }
  } else {
    const variants = [];
    for (const spec of specs) {
      const v = await chainOf(spec);
      variants.push({ ...v, endpoint: (await v.chain.start({})).endpoint });
    }
    const rows = await pairedRtt(variants, { rounds: +a, pings: +b, warm: 5000, ref: variants[0].name });
    for (const v of variants) {
      const { p50, perRound, ratio } = rows[v.name];
      console.log(
        `${v.name.padEnd(8)} p50 per round ${perRound.map((x) => x.toFixed(3)).join(' ')}  median ${p50.toFixed(3)}${ratio ? `  ÷ ${variants[0].name} ${ratio.toFixed(3)}` : ''}`,
      );
    }
    for (const v of variants) await v.chain.stop();
  }
} finally {
  await sink.proc.stop();
}
process.exit(0);
