// The agent's side of resumption against a server that offers it (the fake server over framing's
// ResumeTable): a cut connection is resumed on the same session (a relayed stream carries on); a
// loss after the server's GOAWAY is not resumed; a refused resume (the server forgot the session)
// ends the session with the reason, and the agent opens a new one; a server without resumption
// gets the plain session; the grace ends a session on time while a redial still hangs, counted from
// the last byte from the server (not from the verdict); redials that
// go into a blackhole (TCP accepted, TLS never answered) do not hold the resume back (the redial race).
import t from 'tap';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { resume, type Session } from '@edge-tunnel/framing';
import type { AgentMetrics } from '../src/metrics.js';
import { resumeSession } from '../src/resume.js';
import type { AgentConfig } from '../src/config.js';
import { connectServer, type Credentials } from '../src/tls.js';
import { waitFor } from './fixtures/agent.js';
import { setup, target } from './fixtures/harness.js';
import { NODE_IP } from './fixtures/pki.js';

const cut = (socket: Duplex): void => void socket.destroy();

t.test('a cut connection is resumed: the same session, a relayed stream carries on', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const { server, lines } = await setup(t, { resumeGraceMs: 10_000, config: { allowPorts: [{ lo: echo.port, hi: echo.port }] } });
  const session = await server.nextSession();
  t.equal(server.accepted[0]?.kind, 'new', 'the agent asked for a resumable session');
  const stream = session.open({ host: NODE_IP, port: echo.port });
  stream.on('error', () => {});
  const echoed: Buffer[] = [];
  stream.on('data', (b: Buffer) => echoed.push(b));
  stream.write('before ');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before ', 5_000, 'echo before the cut');
  cut(server.resumable[0]!);
  stream.write('during ');
  await waitFor(() => server.accepted.some((a) => a.kind === 'resumed'), 5_000, 'a resume');
  stream.write('after');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before during after', 5_000, 'echo across the resume');
  t.equal(Buffer.concat(echoed).toString(), 'before during after', 'every byte once, in order');
  t.ok(
    lines.some((l) => l.msg === 'connection lost: resuming the session'),
    'the agent logged the loss',
  );
  t.match(
    lines.find((l) => l.msg === 'session resumed'),
    { pausedMs: Number, streams: 1 },
    'and the resume',
  );
  t.notOk(
    lines.some((l) => l.msg === 'session lost'),
    'the session was never lost',
  );
  t.equal(server.sessions.length, 1, 'no new session');
});

t.test("a loss after the server's GOAWAY is not resumed", async (t) => {
  const { server, lines } = await setup(t, { resumeGraceMs: 10_000 });
  const session = await server.nextSession();
  session.goAway('NO_ERROR', 'draining');
  await waitFor(() => lines.some((l) => l.msg === 'server is going away'), 5_000, 'goaway seen');
  cut(server.resumable[0]!);
  await waitFor(() => lines.some((l) => l.msg === 'session lost'), 5_000, 'session lost');
  t.match(
    lines.find((l) => l.msg === 'session lost'),
    { reason: /lost after the server's GOAWAY/ },
    'the reason says why',
  );
  t.notOk(
    server.accepted.some((a) => a.kind === 'resumed' || a.kind === 'refused'),
    'no resume was tried',
  );
});

t.test('a refused resume ends the session with the reason; the agent opens a new one', async (t) => {
  const { server, lines } = await setup(t, { resumeGraceMs: 10_000 });
  await server.nextSession();
  server.resumes!.destroyAll(new Error('forgotten')); // as a restarted server would have
  await waitFor(() => lines.some((l) => l.msg === 'session lost'), 5_000, 'session lost');
  // destroyAll ends the link with FIN: the agent sees the end and does not try; now a real refusal
  await server.nextSession();
  const before = server.accepted.length;
  const id = server.accepted.at(-1)!;
  t.equal(id.kind, 'new', 'a new session');
  // make the table forget it without telling the agent, then cut
  const entry = (id as Extract<typeof id, { kind: 'new' }>).entry;
  (server.resumes as unknown as { entries: Map<string, unknown> }).entries.delete(entry.id);
  cut(server.resumable.at(-1)!);
  await waitFor(() => lines.some((l) => l.msg === 'resume refused: its streams end'), 5_000, 'refused');
  t.match(
    lines.find((l) => l.msg === 'resume refused: its streams end'),
    { code: 'UNKNOWN_SESSION' },
  );
  await server.nextSession();
  t.ok(
    server.accepted.slice(before).some((a) => a.kind === 'refused'),
    'the server refused it',
  );
  t.equal(server.accepted.at(-1)?.kind, 'new', 'then a new session');
});

t.test('a server without resumption: the plain session (no link)', async (t) => {
  const { server } = await setup(t);
  await server.nextSession();
  t.equal(server.accepted.length, 0, 'no resume handshake');
  t.equal(server.sessions.length, 1, 'one plain session');
});

t.test('the grace ends the session on time while a redial still hangs (a blackholed dial), with the grace as the reason', async (t) => {
  const link = new resume.ResumableLink(); // never attached: paused, as after a loss
  link.on('error', () => {});
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (o: object, msg: string) => lines.push({ ...o, msg }), info: (o: object, msg: string) => lines.push({ ...o, msg }) } as unknown as Logger;
  const results: string[] = [];
  const metrics = { resumes: { inc: (l: { result: string }) => results.push(l.result) } } as unknown as AgentMetrics;
  const started = Date.now();
  const closed = new Promise<number>((r) => link.once('close', () => r(Date.now() - started)));
  void resumeSession({
    dialer: { startRedial: () => ({ tcpUp: true, done: new Promise(() => {}), abort: () => {} }), isClosing: false }, // the TLS handshake never comes
    session: { peerGoingAway: false, streams: new Map() } as unknown as Session,
    link,
    credentials: { sessionId: Buffer.alloc(16), secret: Buffer.alloc(32), graceMs: 300 },
    reason: 'no bytes on the connection for 3000 ms',
    log,
    metrics,
    serverAddr: '10.0.0.1:10262',
    timeoutMs: 3_000,
    random: () => 0.9, // the second redial would be due after 475 ms, past the grace
  });
  const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 2_000))]);
  t.ok(ms >= 290 && ms < 1_000, `the link ended ${ms} ms after the loss (grace 300 ms), not after the redial's timeout`);
  t.match(
    lines.find((l) => l.msg === 'session not resumed: its streams end'),
    { reason: /no resume within the server's grace of 300 ms/ },
    'the reason is the grace',
  );
  t.same(results, ['attempted', 'failed'], 'one attempt, counted as failed');
});

t.test("the agent's grace counts from the last byte from the server, not from the loss's verdict", async (t) => {
  const link = new resume.ResumableLink(); // never attached: nothing from the server since it was made
  link.on('error', () => {});
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (o: object, msg: string) => lines.push({ ...o, msg }), info: (o: object, msg: string) => lines.push({ ...o, msg }) } as unknown as Logger;
  const metrics = { resumes: { inc: () => {} } } as unknown as AgentMetrics;
  // the verdict of a silent link comes a keepalive timeout after its last byte: here 1000 ms
  const silence = 1_000;
  const graceMs = 3_200;
  await new Promise((r) => setTimeout(r, silence));
  const lostAt = Date.now();
  const closed = new Promise<number>((r) => link.once('close', () => r(Date.now() - lostAt)));
  void resumeSession({
    dialer: { startRedial: () => ({ tcpUp: false, done: new Promise(() => {}), abort: () => {} }), isClosing: false },
    session: { peerGoingAway: false, streams: new Map() } as unknown as Session,
    link,
    credentials: { sessionId: Buffer.alloc(16), secret: Buffer.alloc(32), graceMs },
    reason: `no bytes on the connection for ${silence} ms`,
    log,
    metrics,
    serverAddr: '10.0.0.1:10262',
    timeoutMs: 3_000,
  });
  const lost = lines.find((l) => l.msg === 'connection lost: resuming the session');
  t.ok(Number(lost?.['silentMs']) >= silence - 50, `the loss line says how long the link was silent: ${lost?.['silentMs']} ms`);
  t.ok(Number(lost?.['graceLeftMs']) <= graceMs - silence + 50, `and what is left of the grace: ${lost?.['graceLeftMs']} ms`);
  const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5_000))]);
  t.ok(
    ms >= graceMs - silence - 100 && ms < graceMs - silence / 2,
    `the link ended ${ms} ms after the verdict, ${ms + silence} ms after the last byte (grace ${graceMs} ms)`,
  );
  t.match(
    lines.find((l) => l.msg === 'session not resumed: its streams end'),
    { reason: new RegExp(`no resume within the server's grace of ${graceMs} ms: nothing from the server for \\d+ ms`) },
    'the reason says how long the link was silent',
  );
});

t.test('redials into a blackhole (TCP accepted, TLS never answered) do not hold the resume back: the third dial resumes', async (t) => {
  let holeEnded = 0;
  // accepts, never answers the ClientHello; counts the connections the agent ended (FIN or reset)
  const hole = await target(
    t,
    (s) =>
      s
        .resume()
        .once('end', () => (holeEnded += 1))
        .once('error', () => (holeEnded += 1)),
    '127.0.0.1',
  );
  let dials = 0;
  // dial 1 is the session; redials 1 and 2 (dials 2, 3) go into the hole, redial 3 to the server
  const connect = (config: AgentConfig, creds: Credentials, tunnel?: Socket) => {
    dials += 1;
    return connectServer(dials === 2 || dials === 3 ? { ...config, server: { host: '127.0.0.1', port: hole.port } } : config, creds, tunnel);
  };
  const echo = await target(t, (s) => s.pipe(s));
  const { server, lines } = await setup(t, {
    resumeGraceMs: 20_000,
    deps: { connectServer: connect },
    config: { allowPorts: [{ lo: echo.port, hi: echo.port }] },
  });
  const session = await server.nextSession();
  const stream = session.open({ host: NODE_IP, port: echo.port });
  stream.on('error', () => {});
  const echoed: Buffer[] = [];
  stream.on('data', (b: Buffer) => echoed.push(b));
  stream.write('before ');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before ', 5_000, 'echo before the cut');
  const cutAt = Date.now();
  cut(server.resumable[0]!);
  const resumed = await waitFor(() => server.accepted.some((a) => a.kind === 'resumed'), 3_000, 'a resume').then(
    () => Date.now() - cutAt,
    () => -1,
  );
  t.ok(resumed >= 0, `resumed ${resumed} ms after the cut (within 3 s), though two redials hang in the blackhole`);
  t.equal(hole.sockets.length, 2, 'two redials reached the blackhole');
  t.ok(dials >= 4, `the resume came over a later dial (${dials} dials)`);
  await waitFor(() => holeEnded === 2, 2_000, 'the losers to close').catch(() => undefined);
  t.equal(holeEnded, 2, 'the losers (TCP up, TLS pending) were destroyed at once: the blackhole saw both close');
  stream.write('after');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before after', 5_000, 'echo across the resume').catch(() => undefined);
  t.equal(Buffer.concat(echoed).toString(), 'before after', 'the stream carried on');
  t.match(
    lines.find((l) => l.msg === 'session resumed'),
    { streams: 1 },
  );
});
