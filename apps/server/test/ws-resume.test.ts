// The server's WebSocket listener with resumption (framing spec §10.6), real agent listener and ws
// sockets on loopback: with --resume-grace-ms > 0 it picks subprotocol edge-tunnel-resume.v1 when
// the agent offers it, runs the resumable link over the WebSocket, and resumes the same session
// (same registry entry, a PING written during the pause answered after it) on a new connection
// whose proof is bound to that connection's signed challenge; a proof recorded on the first
// connection is refused BAD_PROOF on another; an agent that offers only edge-tunnel.v1, and a server
// without resumption, get the plain session.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:https';
import { Session, resume } from '@edge-tunnel/framing';
import { RESUME_SUBPROTOCOL, SUBPROTOCOL, WebSocketDuplex, proofMessage, readChallenge } from '@edge-tunnel/websocket';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { WebSocket, type RawData } from 'ws';
import { createAgentListener } from '../src/agents/agent-listener.js';
import { AgentRegistry } from '../src/agents/registry.js';
import { createWsListener } from '../src/agents/ws-listener.js';
import { ServerMetrics } from '../src/metrics.js';
import { LogCapture, defaultConfig, waitFor } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const NODE = 'edge-ws-1';
const agentCert = await pki.agent(NODE, ['127.0.0.2']);

async function startWs(t: Test, resumeGraceMs: number): Promise<{ port: number; logs: LogCapture; registry: AgentRegistry }> {
  const logs = new LogCapture();
  const registry = new AgentRegistry();
  const metrics = new ServerMetrics(registry);
  const log = pino({ level: 'debug' }, logs.stream);
  const agents = createAgentListener(
    {
      ...defaultConfig(),
      cert: pki.server.certPem,
      key: pki.server.keyPem,
      agentCa: pki.agentCa.certPem,
      serverId: 'srv-ws',
      compression: false,
      keepaliveIntervalMs: 1000,
      keepaliveTimeoutMs: 5000,
      openTimeoutMs: 2000,
      helloTimeoutMs: 2000,
      drainTimeoutMs: 200,
      resumeGraceMs,
    },
    registry,
    metrics,
    log,
  );
  const ws: Server = createWsListener(
    { cert: pki.server.certPem, key: pki.server.keyPem, agentCa: pki.agentCa.certPem, helloTimeoutMs: 2000, maxPendingConnections: 16 },
    agents,
    metrics,
    log,
  );
  ws.listen(0, '127.0.0.1');
  await once(ws, 'listening');
  t.teardown(() => {
    for (const s of agents.sessions) s.destroy();
    ws.closeAllConnections();
    return new Promise<void>((r) => ws.close(() => r()));
  });
  return { port: (ws.address() as AddressInfo).port, logs, registry };
}

/** A WebSocket connection that passed the certificate proof: its byte stream, challenge and the picked subprotocol. */
function connectWs(port: number, protocols: string[]): Promise<{ duplex: WebSocketDuplex; challenge: Buffer; protocol: string }> {
  // servername: a TLS option ws passes through to tls.connect (its ClientOptions type omits it)
  const options = { ca: pki.agentCa.certPem, servername: 'localhost', perMessageDeflate: false } as ConstructorParameters<typeof WebSocket>[2];
  const ws = new WebSocket(`wss://127.0.0.1:${port}/edge-tunnel/v1/session`, protocols, options);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('message', (data: RawData) => {
      const challenge = readChallenge(data.toString());
      if (!challenge) return reject(new Error('no challenge'));
      ws.send(proofMessage(challenge, agentCert.certPem, agentCert.keyPem));
      resolve({ duplex: new WebSocketDuplex(ws), challenge, protocol: ws.protocol });
    });
  });
}

function agentSession(socket: WebSocketDuplex | resume.ResumableLink): Session {
  const session = new Session(socket, {
    role: 'client',
    hello: { nodeName: NODE, nodeIps: ['127.0.0.2'], version: 1, agentVersion: 'test' },
    keepaliveIntervalMs: 1000,
    keepaliveTimeoutMs: 60_000,
  });
  session.on('error', () => {});
  return session;
}

t.test('the resume subprotocol: a cut WebSocket resumes the same session on a new connection; a replayed proof is refused', async (t) => {
  const { port, logs, registry } = await startWs(t, 10_000);
  const first = await connectWs(port, [RESUME_SUBPROTOCOL, SUBPROTOCOL]);
  t.equal(first.protocol, RESUME_SUBPROTOCOL, 'the server picked the resume subprotocol');
  const { link, credentials } = await resume.openLink(first.duplex, { timeoutMs: 3000 });
  link.on('error', () => {});
  t.equal(credentials.graceMs, 10_000, 'WELCOME carries the grace');
  const session = agentSession(link);
  t.teardown(() => session.destroy());
  await session.ready;
  await waitFor(() => registry.get(NODE) !== undefined, 3000, 'attached');
  const attached = registry.get(NODE)!;
  t.equal(attached.transport, 'websocket', 'attached as a WebSocket session');
  t.ok(attached.resume, 'the session is resumable');

  const paused = once(link, 'paused');
  first.duplex.destroy(new Error('test: cut')); // terminate: the server sees a 1006
  await paused;
  await waitFor(() => logs.lines.some((l) => l.msg === 'agent connection lost: session paused for a resume'), 3000, 'server paused');
  const pong = session.ping(); // written into the paused link: replayed after the resume

  // a proof recorded on the first connection, replayed on a second one (with the node's own key)
  const replay = await connectWs(port, [RESUME_SUBPROTOCOL, SUBPROTOCOL]);
  const stranger = new resume.ResumableLink();
  stranger.on('error', () => {});
  const refusal = await resume.resumeLink(stranger, credentials, replay.duplex, NODE, resume.challengeBinding(first.challenge), 3000).then(
    () => 'resumed',
    (err: resume.ResumeRefusedError) => err.refusal,
  );
  t.equal(refusal, 'BAD_PROOF', 'the replayed proof is refused');
  t.match(
    logs.lines.find((l) => l.msg === 'agent resume refused'),
    { code: 'BAD_PROOF', transport: 'websocket' },
    'and logged with its code',
  );
  stranger.destroy();

  const second = await connectWs(port, [RESUME_SUBPROTOCOL, SUBPROTOCOL]);
  await resume.resumeLink(link, credentials, second.duplex, NODE, resume.challengeBinding(second.challenge), 3000);
  t.ok((await pong) >= 0, 'the PING written during the pause was answered after the resume');
  t.match(
    logs.lines.find((l) => l.msg === 'agent session resumed'),
    { nodeName: NODE, transport: 'websocket' },
    'the server logged the resume',
  );
  t.equal(registry.get(NODE), attached, 'the same registry entry: the session carried on');
  t.equal(attached.resume?.succeeded, 1, '/debug/tunnels counts one resume');
  t.equal(attached.resume?.refused, 1, 'and the refused one');
});

t.test('plain sessions: an agent that offers only edge-tunnel.v1, and a server without resumption', async (t) => {
  const withResume = await startWs(t, 10_000);
  const old = await connectWs(withResume.port, [SUBPROTOCOL]);
  t.equal(old.protocol, SUBPROTOCOL, 'an older agent gets edge-tunnel.v1');
  const s1 = agentSession(old.duplex);
  t.teardown(() => s1.destroy());
  await s1.ready;
  await waitFor(() => withResume.registry.get(NODE) !== undefined, 3000, 'attached');
  t.notOk(withResume.registry.get(NODE)!.resume, 'not resumable');

  const without = await startWs(t, 0);
  const plain = await connectWs(without.port, [RESUME_SUBPROTOCOL, SUBPROTOCOL]);
  t.equal(plain.protocol, SUBPROTOCOL, 'a server with --resume-grace-ms 0 picks edge-tunnel.v1');
  const s2 = agentSession(plain.duplex);
  t.teardown(() => s2.destroy());
  await s2.ready;
  await waitFor(() => without.registry.get(NODE) !== undefined, 3000, 'attached');
  const closed = once(s2, 'close');
  plain.duplex.destroy(new Error('test: cut'));
  await closed;
  await waitFor(() => without.registry.get(NODE) === undefined, 3000, 'detached');
  t.ok(
    without.logs.lines.some((l) => l.msg === 'agent session closed'),
    'the plain session ends with its connection',
  );
});
