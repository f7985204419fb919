// The `connect failed` lines of a resume's redials (redial-log.ts): the first failure at once, then
// one line per period with the count and the last reason, the rest when the resume ends. And a real
// dialer whose resume goes to a replica's own advertised address that refuses connections
// (ECONNREFUSED, every 250–500 ms through the grace): two lines instead of one per dial, naming that
// address, not --server.
import t from 'tap';
import type { Logger } from 'pino';
import { Dialer } from '../src/dialer.js';
import { openCredentials } from '../src/credentials.js';
import { ConnectResult, createMetrics } from '../src/metrics.js';
import { REDIAL_LOG_EVERY_MS, RedialFailureLog } from '../src/redial-log.js';
import type { DialFailure } from '../src/transport-choice.js';
import { agentConfig, captureLogger, waitFor } from './fixtures/agent.js';
import { closedPort } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';
import { FakeServer } from './fixtures/server.js';

const REPLICA_HOST = '127.0.191.5';

t.test('RedialFailureLog: first failure at once, then one line per period with the count and the last reason, the rest at the end', async (t) => {
  let now = 1_000_000;
  const lines: Array<{ level: string; msg: string; [k: string]: unknown }> = [];
  const at = (level: string) => (o: object, msg: string) => lines.push({ level, msg, ...o });
  const log = { warn: at('warn'), error: at('error') } as unknown as Logger;
  const f = new RedialFailureLog(log, 10_000, () => now);
  const refused = (n: number): DialFailure => ({
    kind: ConnectResult.UNREACHABLE,
    code: 'ECONNREFUSED',
    reason: `server 10.0.0.7:10262 unreachable: refused #${n}`,
  });
  t.equal(REDIAL_LOG_EVERY_MS, 10_000, 'the default period');
  f.failed(refused(1), '10.0.0.7:10262');
  t.equal(lines.length, 1, 'the first failure is logged at once');
  t.match(lines[0], { level: 'warn', msg: 'connect failed', code: 'ECONNREFUSED', target: '10.0.0.7:10262', redial: true, reason: /refused #1/ });
  t.notOk('failures' in lines[0]!, 'a single failure has no count');
  // 4 dials a second for 25 s
  for (let i = 2; i <= 101; i++) {
    now += 250;
    f.failed(refused(i), '10.0.0.7:10262');
  }
  t.equal(lines.length, 3, `two summary lines in 25 s, not 100 (${lines.length})`);
  t.match(lines[1], { msg: 'connect failed', failures: 40, overMs: 9_750, reason: /refused #41$/, target: '10.0.0.7:10262', totalFailures: 41 });
  t.match(lines[2], { failures: 40, reason: /refused #81$/, totalFailures: 81 });
  f.flush();
  t.equal(lines.length, 4, 'the resume ended: the rest');
  t.match(lines[3], { failures: 20, reason: /refused #101$/, totalFailures: 101 });
  f.flush();
  t.equal(lines.length, 4, 'nothing pending: no line');
  now += 10_000;
  f.failed({ kind: ConnectResult.TLS_ERROR, code: 'ERR_SSL', reason: 'server certificate rejected' }, undefined);
  t.match(
    lines[4],
    { level: 'error', failures: 1, reason: 'server certificate rejected' },
    'a failure an operator must fix is an error; past the period, at once',
  );
  t.notOk('target' in lines[4]!, 'no target when the dialer named none');
  t.equal(f.total, 102);
});

t.test("a resume to a replica's advertised address that refuses: two `connect failed` lines through the grace, naming that address", async (t) => {
  const pki = await testPki();
  const server = new FakeServer(pki, undefined, { resumeGraceMs: 3_000 });
  const port = await server.listen();
  const replicaPort = await closedPort(REPLICA_HOST);
  const replicaAddr = `${REPLICA_HOST}:${replicaPort}`;
  const { logger, lines } = captureLogger();
  const config = agentConfig(pki, port);
  const log = logger.child({ serverAddr: `127.0.0.1:${port}` });
  const dialer = new Dialer({
    config,
    log,
    metrics: createMetrics(() => undefined),
    onStream: (s) => s.destroy(),
    credentials: await openCredentials(config, log),
    resumeRoute: () => ({ target: { host: REPLICA_HOST, port: replicaPort }, via: 'replica' }),
  });
  dialer.start();
  t.teardown(async () => {
    await dialer.close(100);
    await server.close();
  });
  await server.nextSession();
  await waitFor(() => dialer.session, 5_000, 'the session up');
  const lostAt = Date.now();
  server.resumable[0]!.destroy(); // a reset: the agent redials the replica, which refuses every dial
  const ended = await waitFor(() => lines.find((l) => l.msg === 'session not resumed: its streams end'), 6_000, 'the grace to end the resume');
  const endMs = Date.now() - lostAt;
  const failed = lines.filter((l) => l.msg === 'connect failed' && Number(l.time) >= lostAt);
  t.ok(endMs >= 2_500, `the grace ended the resume ${endMs} ms after the loss`);
  t.equal(failed.length, 2, `${failed.length} connect failed lines (one per dial before: a dial every 250–500 ms)`);
  t.match(failed[0], { code: 'ECONNREFUSED', target: replicaAddr, redial: true }, 'the first at once');
  t.ok(Number(failed[0]!.time) - lostAt < 1_000, 'right after the loss');
  t.ok(Number(failed[1]!['failures']) >= 3, `then the rest with their count (${failed[1]!['failures']}) when the grace ended`);
  for (const l of failed) {
    t.match(
      l['reason'],
      new RegExp(`server ${replicaAddr.replaceAll('.', '\\.')} unreachable: ECONNREFUSED`),
      `the reason names the replica's address: ${String(l['reason'])}`,
    );
    t.notMatch(l['reason'], new RegExp(`:${port}\\b`), 'not --server');
  }
  t.match(
    ended['reason'],
    new RegExp(`nothing from the server for \\d+ ms \\(server ${replicaAddr.replaceAll('.', '\\.')} unreachable`),
    'the end says why, naming it too',
  );
  const lineIndex = (l: object) => lines.indexOf(l as (typeof lines)[number]);
  t.ok(lineIndex(failed[1]!) < lineIndex(ended), 'the last failures come before the end they led to');
});
