// Where a resume redials (resume-route.ts) and the OTHER_REPLICA retry: two replicas that tag their
// session ids behind a load balancer that sends the resume to the wrong one first; the agent,
// which knows only the load balancer for that session, retries through it and resumes on the
// replica that holds the session (a relayed stream carries on). OTHER_REPLICA from a replica's own
// address, and every other refusal, is not retried.
import t from 'tap';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { resume } from '@edge-tunnel/framing';
import { start } from '../src/start.js';
import { markRoute, resumeRoute, retryElsewhere } from '../src/resume-route.js';
import { agentConfig, captureLogger, waitFor } from './fixtures/agent.js';
import { target } from './fixtures/harness.js';
import { NODE_IP, testPki } from './fixtures/pki.js';
import { FakeServer } from './fixtures/server.js';

const quiet = { info: () => {} } as unknown as Logger;

t.test("resumeRoute: the replica's advertised address when given, else --server through the load balancer", async (t) => {
  const lb = { host: 'lb.example', port: 10262 };
  t.same(resumeRoute(lb, '10.1.2.3:10262'), { target: { host: '10.1.2.3', port: 10262 }, via: 'replica' });
  t.same(resumeRoute(lb, undefined), { target: lb, via: 'lb' });
});

t.test('retryElsewhere: only OTHER_REPLICA on a dial through the load balancer', async (t) => {
  const other = new resume.ResumeRefusedError('OTHER_REPLICA', 'issued by another replica');
  t.ok(retryElsewhere(other, markRoute({}, 'lb'), quiet), 'OTHER_REPLICA through the load balancer: retry');
  t.notOk(retryElsewhere(other, markRoute({}, 'replica'), quiet), "OTHER_REPLICA at the replica's own address: the address serves another replica now, end");
  t.notOk(retryElsewhere(other, {}, quiet), 'a socket of unknown route: end');
  t.notOk(retryElsewhere(new resume.ResumeRefusedError('UNKNOWN_SESSION', 'gone'), markRoute({}, 'lb'), quiet), 'UNKNOWN_SESSION: end');
  t.notOk(retryElsewhere(new Error('boom'), markRoute({}, 'lb'), quiet), 'not a refusal');
});

t.test('through a load balancer that picks the wrong replica: OTHER_REPLICA, retried until the right one; the stream carries on', async (t) => {
  const pki = await testPki();
  const a = new FakeServer(pki, 'r-a', { resumeGraceMs: 10_000, issuer: true });
  const b = new FakeServer(pki, 'r-b', { resumeGraceMs: 10_000, issuer: true });
  const ports = [await a.listen(), await b.listen()];
  // connection 1 → a (the session), then b, b (the wrong replica twice), then a again
  const order = [0, 1, 1, 0];
  let dials = 0;
  const sockets = new Set<Socket>();
  const lb = createServer((client) => {
    const up = connect({ host: '127.0.0.1', port: ports[order[Math.min(dials++, order.length - 1)]!]! });
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => (client.destroy(), up.destroy()));
      s.once('close', () => (sockets.delete(s), client.destroy(), up.destroy()));
    }
    client.pipe(up).pipe(client);
  });
  lb.listen(0, '127.0.0.1');
  await once(lb, 'listening');
  const echo = await target(t, (s) => s.pipe(s));
  const { logger, lines } = captureLogger();
  const agent = await start(agentConfig(pki, (lb.address() as AddressInfo).port, { allowPorts: [{ lo: echo.port, hi: echo.port }] }), logger);
  t.teardown(async () => {
    await agent.close();
    for (const s of sockets) s.destroy();
    lb.close();
    await Promise.all([a.close(), b.close()]);
  });
  const session = await a.nextSession();
  const stream = session.open({ host: NODE_IP, port: echo.port });
  stream.on('error', () => {});
  const echoed: Buffer[] = [];
  stream.on('data', (c: Buffer) => echoed.push(c));
  stream.write('before ');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before ', 5_000, 'echo before the cut');
  a.resumable[0]!.destroy();
  stream.write('during ');
  await waitFor(() => a.accepted.some((x) => x.kind === 'resumed'), 10_000, 'the resume at a');
  stream.write('after');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before during after', 5_000, 'echo across the resume');
  t.same(
    b.accepted.map((x) => (x.kind === 'refused' ? x.code : x.kind)),
    ['OTHER_REPLICA', 'OTHER_REPLICA'],
    'b refused both resumes OTHER_REPLICA',
  );
  t.equal(lines.filter((l) => l.msg === 'resume reached another replica: retrying through the load balancer').length, 2, 'the agent retried twice');
  t.notOk(
    lines.some((l) => l.msg === 'resume refused: its streams end' || l.msg === 'session lost'),
    'the session was never given up',
  );
  t.equal(a.sessions.length + b.sessions.length, 1, 'no new session anywhere');
});
