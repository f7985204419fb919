// RTT-scaled start windows (framing spec §6, issue 17): bytes a fresh bulk stream delivers in its
// first 1, 2 and 3 s across a user-space delay line (`delayMs` each way, no rate limit), with
// `startRate` 0 (every stream starts at initialWindow, 256 KiB, and auto-tuning grows it) and with
// the default (clamp(initialWindow, 2.5 MiB/s × smallest RTT, maxWindow)), alternating, `rounds` each.
// Both sessions in this process, over plain TCP.
//
//   (cd libs/framing && npx tsc -p tsconfig.build.json) && node perf/framing/start-window-bench.mjs [delayMs=200] [rounds=2]
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { Session } = await import(join(root, 'libs/framing/dist/index.js'));
const delayMs = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 2);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Relays `from` to `to`, each chunk `delayMs` late (equal delays keep the order).
 * @param {net.Socket} from @param {net.Socket} to
 */
function delayed(from, to) {
  from.on('data', (c) => setTimeout(() => to.destroyed || to.write(c), delayMs));
  from.on('error', () => to.destroy());
}

/** A TCP connection through a delaying proxy on 127.0.0.1. */
async function linkPair() {
  const target = net.createServer({ noDelay: true });
  await new Promise((r) => target.listen(0, '127.0.0.1', () => r(undefined)));
  const proxy = net.createServer({ noDelay: true }, (inbound) => {
    const outbound = net.connect({ port: /** @type {net.AddressInfo} */ (target.address()).port, host: '127.0.0.1', noDelay: true });
    delayed(inbound, outbound);
    delayed(outbound, inbound);
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', () => r(undefined)));
  const accepted = /** @type {Promise<net.Socket>} */ (new Promise((r) => target.once('connection', r)));
  const client = net.connect({ port: /** @type {net.AddressInfo} */ (proxy.address()).port, host: '127.0.0.1', noDelay: true });
  const server = await accepted;
  return { client, server, close: () => (client.destroy(), server.destroy(), target.close(), proxy.close()) };
}

/**
 * MB delivered by 1, 2 and 3 s on a new stream, once the sessions have an RTT sample.
 * @param {number | undefined} startRate
 */
async function once(startRate) {
  const link = await linkPair();
  const client = new Session(link.client, { role: 'client', startRate });
  const server = new Session(link.server, { role: 'server', startRate });
  await Promise.all([client.ready, server.ready]);
  while (client.minRttMs === undefined) await sleep(20);
  server.on('stream', (/** @type {import('node:stream').Duplex & { accept(): void }} */ s) => {
    s.accept();
    s.on('error', () => {});
    const block = Buffer.alloc(64 * 1024);
    const fill = () => {
      while (s.write(block));
    };
    s.on('drain', fill);
    fill();
  });
  const stream = client.open({ host: '127.0.0.1', port: 1 });
  stream.on('error', () => {});
  let bytes = 0;
  stream.on('data', (/** @type {Buffer} */ d) => (bytes += d.length));
  const t0 = performance.now();
  const marks = [];
  for (const at of [1000, 2000, 3000]) {
    await sleep(at - (performance.now() - t0));
    marks.push(bytes / 1e6);
  }
  const rtt = client.minRttMs;
  client.destroy();
  server.destroy();
  link.close();
  return { rtt, marks };
}

for (let r = 0; r < rounds; r++) {
  for (const startRate of [0, undefined]) {
    const { rtt, marks } = await once(startRate);
    console.log(`RTT ${rtt.toFixed(0)} ms, startRate ${startRate ?? 'default'}: MB by 1 / 2 / 3 s: ${marks.map((m) => m.toFixed(2)).join(' / ')}`);
  }
}
