// Session resumption over the WebSocket transport (framing spec §10.6), with real ws sockets on
// loopback: the agent offers subprotocol edge-tunnel-resume.v1; a WebSocket connection destroyed
// in the middle of several MiB each way is resumed on the same session, every byte once and in
// order; a resume proof recorded on one connection is refused on another (it is bound to that
// connection's challenge), and so is the session's secret used with another node's certificate; a
// server without the subprotocol gets the plain session, whose streams end with the connection as
// before; a grace that runs out ends the session with the grace as the reason; a clean close (1000)
// from a server side that no longer reads is a loss at once (resumed), not after ws's 30 s close timeout.
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import t, { type Test } from 'tap';
import { WebSocket, type RawData } from 'ws';
import { resume, type Session } from '@edge-tunnel/framing';
import { RESUME_SUBPROTOCOL, SUBPROTOCOL, WebSocketDuplex, proofMessage, readChallenge } from '@edge-tunnel/websocket';
import { start } from '../src/start.js';
import { agentConfig, captureLogger, waitFor, type LogLine } from './fixtures/agent.js';
import { target } from './fixtures/harness.js';
import { NODE_IP, NODE_NAME, testPki, type TestPki } from './fixtures/pki.js';
import { FakeServer } from './fixtures/server.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function wsSetup(t: Test, resumeGraceMs?: number): Promise<{ pki: TestPki; server: FakeServer; lines: LogLine[]; wsPort: number }> {
  const pki = await testPki();
  const server = new FakeServer(pki, undefined, { resumeGraceMs });
  const port = await server.listen();
  const wsPort = await server.listenWs();
  const { logger, lines } = captureLogger();
  const config = agentConfig(pki, port, {
    transport: 'websocket',
    wsUrl: new URL(`wss://127.0.0.1:${wsPort}/edge-tunnel/v1/session`),
    allowPorts: [{ lo: 1, hi: 65535 }],
  });
  const agent = await start(config, logger);
  t.teardown(async () => {
    await agent.close();
    await server.close();
  });
  return { pki, server, lines, wsPort };
}

/** Opens a stream through the agent to an echo target; resolves with it and what came back so far. */
async function echoStream(t: Test, session: Session): Promise<{ stream: Duplex; echoed: Buffer[] }> {
  const echo = await target(t, (s) => s.pipe(s));
  const stream = session.open({ host: NODE_IP, port: echo.port });
  stream.on('error', () => {});
  const echoed: Buffer[] = [];
  stream.on('data', (b: Buffer) => echoed.push(b));
  return { stream, echoed };
}

const size = (bufs: Buffer[]): number => bufs.reduce((n, b) => n + b.length, 0);

/** One attacker's WebSocket connection with `cert`/`key`: resolves with its byte stream and its challenge. */
function attackerConnection(wsPort: number, pki: TestPki, cred: { certPem: string; keyPem: string }): Promise<{ duplex: Duplex; challenge: Buffer }> {
  const ws = new WebSocket(`wss://127.0.0.1:${wsPort}/edge-tunnel/v1/session`, [RESUME_SUBPROTOCOL, SUBPROTOCOL], { ca: pki.caPem, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('message', (data: RawData) => {
      const challenge = readChallenge(data.toString());
      if (!challenge) return reject(new Error('no challenge'));
      ws.send(proofMessage(challenge, cred.certPem, cred.keyPem));
      resolve({ duplex: new WebSocketDuplex(ws), challenge });
    });
  });
}

/** The server's record of the live resumable session (white-box: the secret never leaves the table otherwise). */
function heldSession(server: FakeServer): { sessionId: Buffer; secret: Buffer } {
  const entries = (server.resumes as unknown as { entries: Map<string, { secret: Buffer }> }).entries;
  const [id, held] = [...entries.entries()][0]!;
  return { sessionId: Buffer.from(id, 'hex'), secret: held.secret };
}

t.test('a WebSocket connection destroyed mid-transfer of 6 MiB each way: the session resumes, SHA-256 equal', async (t) => {
  const { server, lines } = await wsSetup(t, 10_000);
  const session = await server.nextSession();
  t.same(server.wsOffered[0], [RESUME_SUBPROTOCOL, SUBPROTOCOL], 'the agent offered the resume subprotocol next to the normal one');
  t.equal(server.accepted[0]?.kind, 'new', 'the server picked it: a resumable session');
  const { stream, echoed } = await echoStream(t, session);
  const sent = randomBytes(6 * MiB);
  let at = 0;
  const pump = (): void => {
    while (at < sent.length) {
      const chunk = sent.subarray(at, at + 64 * 1024);
      at += chunk.length;
      if (!stream.write(chunk)) return void stream.once('drain', pump);
    }
  };
  pump();
  await waitFor(() => size(echoed) >= 1 * MiB, 10_000, '1 MiB echoed');
  const cutAt = size(echoed);
  server.resumable[0]!.destroy(new Error('test: cut')); // the server's side of the WebSocket's TCP connection: a 1006 for the agent
  await waitFor(() => server.accepted.some((a) => a.kind === 'resumed'), 10_000, 'a resume');
  await waitFor(() => size(echoed) >= sent.length, 30_000, 'every byte echoed');
  t.ok(cutAt < sent.length, `the cut came mid-transfer (${cutAt} of ${sent.length} bytes echoed)`);
  t.equal(size(echoed), sent.length, 'no byte duplicated');
  t.equal(sha(Buffer.concat(echoed)), sha(sent), 'SHA-256 equal: no byte lost, duplicated or reordered');
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
  t.equal(server.resumable.length, 2, 'the resume came on a second WebSocket connection');
});

t.test("a recorded proof replayed on another connection, and the secret with another node's key, are refused", async (t) => {
  const { pki, server, lines, wsPort } = await wsSetup(t, 10_000);
  const session = await server.nextSession();
  const { sessionId, secret } = heldSession(server);
  const credentials = { sessionId, secret, graceMs: 10_000 };
  const tryResume = async (cred: { certPem: string; keyPem: string }, identity: string, bindingOf: (challenge: Buffer) => Buffer): Promise<string> => {
    const { duplex, challenge } = await attackerConnection(wsPort, pki, cred);
    const link = new resume.ResumableLink(); // never attached: paused, as an agent's after a loss
    link.on('error', () => {});
    try {
      await resume.resumeLink(link, credentials, duplex, identity, bindingOf(challenge), 5_000);
      return 'resumed';
    } catch (err) {
      return (err as resume.ResumeRefusedError).refusal ?? (err as Error).message;
    } finally {
      link.destroy();
      duplex.destroy();
    }
  };
  // the agent's own key, and the proof it sent on its first connection (an HMAC over that connection's challenge)
  const recorded = resume.challengeBinding(server.wsChallenges[0]!);
  t.equal(await tryResume(pki.agentPem, NODE_NAME, () => recorded), 'BAD_PROOF', 'a proof replayed on another connection is refused');
  // a TLS-terminating hop that read the secret, with a valid certificate of another node
  t.equal(await tryResume(pki.otherNode, NODE_NAME, (c) => resume.challengeBinding(c)), 'WRONG_NODE', "the secret is useless without this node's key");
  t.equal(await tryResume(pki.otherNode, pki.otherNode.name, (c) => resume.challengeBinding(c)), 'WRONG_NODE', 'also when the proof names the other node');
  t.same(
    server.accepted.slice(1).map((a) => a.kind === 'refused' && a.code),
    ['BAD_PROOF', 'WRONG_NODE', 'WRONG_NODE'],
    'the server refused each with its reason',
  );
  // the refusals left the live session alone
  const { stream, echoed } = await echoStream(t, session);
  stream.write('still here');
  await waitFor(() => Buffer.concat(echoed).toString() === 'still here', 5_000, 'echo after the refusals');
  t.notOk(
    lines.some((l) => l.msg === 'connection lost: resuming the session' || l.msg === 'session lost'),
    "the agent's session never noticed",
  );
  t.equal(server.sessions.length, 1, 'one session');
});

t.test('an old server (no resume subprotocol): the plain session; a dropped connection ends its streams as before', async (t) => {
  const { server, lines } = await wsSetup(t);
  const session = await server.nextSession();
  t.same(server.wsOffered[0], [RESUME_SUBPROTOCOL, SUBPROTOCOL], 'the agent offered resumption');
  t.equal(server.accepted.length, 0, 'no resume handshake');
  const { stream } = await echoStream(t, session);
  const ended = new Promise<string>((r) => stream.once('close', () => r('closed')));
  server.wsStreams[0]!.destroy(new Error('test: cut'));
  t.equal(await ended, 'closed', 'the open stream ended');
  await waitFor(() => lines.some((l) => l.msg === 'session lost'), 5_000, 'session lost');
  t.match(
    lines.find((l) => l.msg === 'session lost'),
    { reason: /websocket closed: 1006/ },
    'session lost … websocket closed: 1006, as today',
  );
  t.notOk(
    lines.some((l) => l.msg === 'connection lost: resuming the session'),
    'no resume tried',
  );
  await server.nextSession();
  t.equal(server.sessions.length, 2, 'a fresh session');
  t.same(server.transports, ['websocket', 'websocket'], 'both over WebSocket');
});

t.test('a grace that runs out ends the session on both sides with the grace as the reason', async (t) => {
  const { server, lines } = await wsSetup(t, 600);
  const session = await server.nextSession();
  const closed = new Promise<Error | undefined>((r) => session.once('close', r));
  server.wsRefuse = 'test: no way back in';
  server.resumable[0]!.destroy(new Error('test: cut'));
  const err = await closed;
  t.match(err?.message ?? '', /no resume within the grace of 600 ms/, 'the server ended its session after the grace');
  await waitFor(() => lines.some((l) => l.msg === 'session not resumed: its streams end'), 5_000, 'the agent gave up');
  t.match(
    lines.find((l) => l.msg === 'session not resumed: its streams end'),
    { reason: /no resume within the server's grace of 600 ms/ },
    "the agent's reason is the grace",
  );
  t.notOk(
    server.accepted.some((a) => a.kind === 'resumed'),
    'never resumed',
  );
  server.wsRefuse = undefined;
  await server.nextSession();
  t.equal(server.accepted.at(-1)?.kind, 'new', 'then a new resumable session');
});

t.test('a refused certificate proof on a resume-offering server is a certificate failure, as without resumption', async (t) => {
  const pki = await testPki();
  const server = new FakeServer(pki, undefined, { resumeGraceMs: 10_000 });
  server.wsRefuse = 'the agent certificate is not signed by the agent CA';
  const port = await server.listen();
  const wsPort = await server.listenWs();
  const { logger, lines } = captureLogger();
  const agent = await start(agentConfig(pki, port, { transport: 'websocket', wsUrl: new URL(`wss://127.0.0.1:${wsPort}/edge-tunnel/v1/session`) }), logger);
  t.teardown(async () => {
    await agent.close();
    await server.close();
  });
  await waitFor(() => lines.some((l) => l.msg === 'connect failed'), 5_000, 'connect failed');
  t.match(
    lines.find((l) => l.msg === 'connect failed'),
    { code: 'tls_error', reason: /refused our certificate proof: the agent certificate is not signed by the agent CA/ },
    "tls_error with the server's reason",
  );
});

t.test('a clean close (1000) from a server side that no longer reads is a loss at once: the agent resumes, not 30 s later', async (t) => {
  const { server, lines } = await wsSetup(t, 10_000);
  const session = await server.nextSession();
  const { stream, echoed } = await echoStream(t, session);
  stream.write('before ');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before ', 5_000, 'echo before the close');
  // the server's WebSocket reads nothing more (its socket backpressured) and closes cleanly: ws on
  // the agent answers the close frame and waited for the server to close TCP, up to its 30 s close
  // timeout, before the agent saw the end
  const ws = (server.wsStreams[0] as unknown as { ws: WebSocket }).ws;
  ws.pause();
  const closedAt = Date.now();
  ws.close(1000, 'going away');
  await waitFor(() => lines.find((l) => l.msg === 'connection lost: resuming the session'), 5_000, 'the agent to see the loss');
  const lostMs = Date.now() - closedAt;
  t.ok(lostMs < 2_000, `the agent saw the loss ${lostMs} ms after the close frame`);
  await waitFor(() => server.accepted.some((a) => a.kind === 'resumed'), 10_000, 'a resume');
  stream.write('after');
  await waitFor(() => Buffer.concat(echoed).toString() === 'before after', 5_000, 'echo across the resume');
  t.equal(Buffer.concat(echoed).toString(), 'before after', 'the stream carries on');
});
