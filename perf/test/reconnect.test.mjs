// The `reconnect` scenario's pieces without a chain: the pause of each kill from the ping answers,
// the agent's `session resumed` lines, and `ss -K` killing exactly the connections to one port.
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killConnectionsTo, pausesAfter, reconnectUnavailable, resumeLog, resumedPauses } from '../lib/reconnect.mjs';

t.test('pausesAfter: the longest gap between answers around each kill', async (t) => {
  // answers every ~1 ms but for a 488 ms stall after the kill at 12.5 and a 699.5 ms one after the kill at 1000
  const answered = [10, 11, 12, 500, 501, 502, 1000.5, 1700, 1701];
  t.same(pausesAfter([12.5, 1000], answered), [488, 699.5], 'from the last answer before the kill to the first after it');
  t.same(pausesAfter([2000], answered), [], 'a kill with no answer after it has no pause (the stream died)');
  t.same(pausesAfter([0], [5, 6, 7]), [1], 'no answer before the kill: the gaps after it');
});

t.test('resumedPauses and resumeLog: the lines since the scenario began, a cut line skipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'perf-reconnect-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.log');
  const line = (/** @type {object} */ o) => JSON.stringify(o);
  writeFileSync(
    file,
    [
      line({ time: 900, msg: 'session resumed', pausedMs: 5 }),
      line({ time: 1000, msg: 'request', path: '/x' }),
      line({ time: 1100, msg: 'connection lost: resuming the session', reason: 'read ECONNABORTED' }),
      line({ time: 1400, msg: 'session resumed', pausedMs: 300 }),
      '{"time":1500,"msg":"session resumed","paus',
    ].join('\n'),
  );
  t.same(resumedPauses(file, 1000), [300], 'only after sinceMs; the cut line skipped');
  t.same(resumeLog(file, 1000), ['+100 connection lost: resuming the session (read ECONNABORTED)', '+400 session resumed 300 ms']);
  t.same(resumedPauses(undefined, 0), [], 'no log file: none');
});

const unavailable = reconnectUnavailable();
t.test('killConnectionsTo resets the connections to that port only', { skip: unavailable ?? false }, async (t) => {
  const accepted = [];
  const server = net.createServer((s) => (s.on('error', () => {}), accepted.push(s)));
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const other = net.createServer((s) => s.on('error', () => {}));
  await new Promise((r) => other.listen(0, '127.0.0.1', () => r(undefined)));
  t.teardown(() => (server.close(), other.close()));
  const port = /** @type {net.AddressInfo} */ (server.address()).port;
  const otherPort = /** @type {net.AddressInfo} */ (other.address()).port;
  const dial = (/** @type {number} */ p) =>
    new Promise((resolve, reject) => {
      const c = net.connect(p, '127.0.0.1', () => resolve(c));
      c.once('error', reject);
    });
  const victim = /** @type {net.Socket} */ (await dial(port));
  const bystander = /** @type {net.Socket} */ (await dial(otherPort));
  t.teardown(() => (victim.destroy(), bystander.destroy()));
  const victimError = new Promise((resolve) => victim.once('error', (err) => resolve(/** @type {NodeJS.ErrnoException} */ (err).code)));
  victim.resume();
  const { killed } = await killConnectionsTo(port);
  t.equal(killed, 1, 'one socket killed: the client end of the one connection to that port');
  victim.write('x'); // the killed socket fails on its next I/O, as the agent's does
  t.match(await victimError, /ECONNABORTED|ECONNRESET|EPIPE/, 'the killed client end errors');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(bystander.destroyed, false, 'a connection to another port is untouched');
});
