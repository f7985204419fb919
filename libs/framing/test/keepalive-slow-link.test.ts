// The dead-peer verdict on a real session whose link slows down (issue 17, weak links): when the
// peer's bytes start arriving 200 ms later than before, the gap between two of them exceeds the
// configured timeout, yet the peer is only slow — the verdict waits max(timeout, 4 × smoothed RTT).
// When the peer then falls silent, the verdict still comes, after that same bound.
import t from 'tap';
import type net from 'node:net';
import { SessionClosedError } from '../src/errors.js';
import { Session } from '../src/session.js';
import { next, until } from './fixtures/streams.js';
import { tcpPair } from './fixtures/transports.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Relays `from` to `to`, each chunk `line.delayMs` late (order kept), or drops it when `line.silent`. */
function delayLine(from: net.Socket, to: net.Socket, line: { delayMs: number; silent: boolean }): void {
  let lastRelease = 0;
  from.on('data', (chunk: Buffer) => {
    if (line.silent) return;
    const release = Math.max(Date.now() + line.delayMs, lastRelease);
    lastRelease = release;
    setTimeout(() => to.destroyed || to.write(chunk), release - Date.now());
  });
}

t.test('a link whose delay jumps by 200 ms is slow, not dead; silence is still dead', async (t) => {
  const [clientEnd, relayIn] = await tcpPair(t);
  const [relayOut, serverEnd] = await tcpPair(t);
  for (const s of [relayIn, relayOut]) s.on('error', () => {}); // a dead session's end goes away
  relayIn.on('data', (chunk: Buffer) => relayOut.destroyed || relayOut.write(chunk)); // client → server: immediate
  const line = { delayMs: 0, silent: false }; // server → client: the slow direction
  delayLine(relayOut, relayIn, line);
  const keepalive = { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 150 };
  const client = new Session(clientEnd, { role: 'client', ...keepalive });
  const server = new Session(serverEnd, { role: 'server', keepaliveIntervalMs: 50, keepaliveTimeoutMs: 60_000 });
  t.teardown(() => (client.destroy(), server.destroy()));
  await Promise.all([client.ready, server.ready]);
  const closed = next<Error | undefined>(client, 'close');

  // the link slows in steps the timeout absorbs (each adds 50 ms to one gap of the 50 ms cadence)
  for (const delayMs of [50, 100]) {
    line.delayMs = delayMs;
    await sleep(700);
  }
  await until(() => (client.rtt.srttMs ?? 0) >= 90, 3_000, 'smoothed RTT near 100 ms');
  t.equal(client.destroyed, false, `alive at a 100 ms delay (srtt ${client.rtt.srttMs!.toFixed(0)} ms)`);

  // now a jump: the next byte comes 50 + 200 ms after the last, past the 150 ms timeout but within
  // 4 × srtt (≥ 360 ms)
  line.delayMs = 300;
  await sleep(1_200);
  t.equal(client.destroyed, false, `alive across the jump to a 300 ms delay (srtt ${client.rtt.srttMs!.toFixed(0)} ms)`);
  t.ok(client.rtt.lastMs! >= 290, `its PONGs merely late: last RTT ${client.rtt.lastMs!.toFixed(0)} ms`);

  // then silence: dead after max(150 ms, 4 × srtt)
  line.silent = true;
  const silentAt = Date.now();
  const bound = Math.max(150, 4 * client.rtt.srttMs!);
  // bytes already on the line still arrive for up to 300 ms
  const err = await Promise.race([closed, sleep(bound + 3_000).then(() => 'still alive' as const)]);
  const after = Date.now() - silentAt;
  t.not(err, 'still alive', `declared dead ${after} ms after the link fell silent`);
  t.ok(err instanceof SessionClosedError && err.wireCode === 'KEEPALIVE_TIMEOUT', `closed with KEEPALIVE_TIMEOUT (${String(err)})`);
  t.ok(after >= bound, `not before 4 × srtt = ${bound.toFixed(0)} ms`);
});
