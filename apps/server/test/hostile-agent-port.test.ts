// Hostile peers on the agent port, driven with raw framing frames over TLS: TLS garbage, a hello
// that lies, agent-opened streams, OPEN / PING / SETTINGS floods. Each gets a precise refusal and a
// log line, and a legitimate agent keeps carrying requests meanwhile.
import t, { type Test } from 'tap';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameType, Setting } from '@edge-tunnel/framing';
import { sleep, startNode, startServer, waitFor } from './fixtures/harness.js';
import { hardenedListener, steadyTraffic } from './fixtures/hostile.js';
import { helloFrame, openFrame, pingFrame, rawAgent, settingsFrame, type RawAgent } from './fixtures/raw-agent.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const NODE = '127.0.20.1:10255';
const server = await startServer(t, pki, ['--hello-timeout-ms', '1000']);
const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1');
const proxy = await hardenedListener(t, server);
const edgeA = server.handle.registry.get('edge-a')!.session;

/** A raw agent for `certNode` that has sent a hello (as `helloNode`) and seen the server's SETTINGS. */
async function helloAgent(certNode: string, ips: string[], helloNode = certNode, helloIps = ips): Promise<RawAgent> {
  const cert = await pki.agent(certNode, ips);
  const agent = await rawAgent(server.addr.agent, { cert: cert.certPem, key: cert.keyPem, ca: pki.agentCa.certPem });
  t.teardown(() => void agent.socket.destroy());
  agent.send(helloFrame(helloNode, helloIps));
  await waitFor(() => agent.frames.some((f) => f.type === FrameType.SETTINGS) || agent.socket.destroyed, 3000, 'server SETTINGS');
  return agent;
}

const logged = (msg: string, pred: (l: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> =>
  server.logs.waitFor((l) => l['msg'] === msg && pred(l));

/** Writes `bytes` on a plain TCP connection to the agent port; resolves when the server closes it. */
function closedAfter(bytes: Buffer): Promise<void> {
  return new Promise<void>((resolve) => {
    const s = netConnect(server.addr.agent.port, server.addr.agent.host);
    s.on('error', () => {});
    s.on('close', () => resolve());
    s.resume(); // read, so that the server's FIN is seen
    s.write(bytes);
  });
}

/** Runs `attack` with steady traffic to edge-a alongside; asserts edge-a kept its session and every request passed. */
async function undisturbed(t: Test, attack: () => Promise<void>): Promise<void> {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const opensBefore = node.agent.opens.length;
  await sleep(30);
  await attack();
  const { ok, bad } = await traffic.stop();
  t.same(bad, [], `${ok} requests to edge-a intact`);
  t.ok(ok > 0, 'traffic flowed during the attack');
  t.ok(node.agent.opens.length - opensBefore >= ok, 'the requests reached the legit agent');
  t.equal(server.handle.registry.get('edge-a')?.session, edgeA, 'edge-a keeps its session');
  t.equal(edgeA.destroyed, false);
}

t.test('TLS garbage: non-TLS bytes are closed at once with a warn line', (t) =>
  undisturbed(t, async () => {
    const before = server.logs.lines.length;
    const started = performance.now();
    await closedAfter(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)));
    t.ok(performance.now() - started < 500, `closed after ${(performance.now() - started).toFixed(0)} ms`);
    // refused before any TLS state exists: the first byte is not a TLS handshake record
    const line = await server.logs.waitFor((l) => l['msg'] === 'connection refused before its tls handshake' && server.logs.lines.indexOf(l) >= before);
    t.match(line, { level: 40, listener: 'agent', reason: 'not_tls', hint: String });
  }),
);

t.test('TLS garbage: a stalled handshake record is closed after the hello timeout (1 s), not 120 s', (t) =>
  undisturbed(t, async () => {
    const started = performance.now();
    // a handshake record header announcing 256 bytes, then only 10 of them
    await closedAfter(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00]), Buffer.alloc(10, 0x01)]));
    const ms = performance.now() - started;
    t.ok(ms >= 800 && ms < 3000, `closed after ${ms.toFixed(0)} ms`);
    // the record never completes: closed by the ClientHello deadline (capped by --hello-timeout-ms)
    t.match(await logged('connection refused before its tls handshake', (l) => l['reason'] === 'client_hello_timeout'), { level: 40, listener: 'agent' });
  }),
);

t.test('TLS without a client certificate: rejected with a warn line, no session', (t) =>
  undisturbed(t, async () => {
    const s = tlsConnect({ host: server.addr.agent.host, port: server.addr.agent.port, ca: pki.agentCa.certPem, servername: 'localhost' });
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('close', () => r()));
    t.match(await logged('agent rejected: certificate'), { level: 40, reason: String });
    t.equal(server.handle.registry.sessions().length, 1, 'only edge-a is attached');
  }),
);

t.test('a hello that lies about its node: GOAWAY REFUSED naming both, a warn line', (t) =>
  undisturbed(t, async () => {
    const liar = await helloAgent('edge-b', ['127.0.20.2'], 'edge-a');
    await liar.closed;
    t.equal(liar.goAway()?.code, 'REFUSED');
    t.match(liar.goAway()?.reason, /edge-a[\s\S]*edge-b|edge-b[\s\S]*edge-a/, 'reason names both nodes');
    t.match(await logged('agent refused: identity mismatch', (l) => l['certNode'] === 'edge-b'), { level: 40, helloNode: 'edge-a', reason: String });
    t.notOk(server.handle.registry.get('edge-b'), 'the liar was not registered');
  }),
);

t.test('a hello with an IP outside the certificate: GOAWAY REFUSED', (t) =>
  undisturbed(t, async () => {
    const liar = await helloAgent('edge-c', ['127.0.20.3'], 'edge-c', ['127.0.20.1']);
    await liar.closed;
    t.equal(liar.goAway()?.code, 'REFUSED');
    t.match(liar.goAway()?.reason, /127\.0\.20\.1/);
    t.match(await logged('agent refused: identity mismatch', (l) => l['certNode'] === 'edge-c'), { level: 40 });
    t.notOk(server.handle.registry.get('edge-c'));
  }),
);

t.test('an agent-opened stream is refused (RESET REFUSED); the session stays', (t) =>
  undisturbed(t, async () => {
    const agent = await helloAgent('edge-d', ['127.0.20.4']);
    await waitFor(() => server.handle.registry.get('edge-d') !== undefined, 2000, 'edge-d attached');
    agent.send(openFrame(1, '127.0.0.1', 22));
    await waitFor(() => agent.resets().has(1), 2000, 'RESET of stream 1');
    t.equal(agent.resets().get(1)?.code, 'REFUSED', 'RESET REFUSED');
    t.equal(agent.goAway(), undefined, 'no GOAWAY for a single OPEN');
    t.ok(server.handle.registry.get('edge-d'), 'edge-d still attached');
    agent.socket.destroy();
    await waitFor(() => server.handle.registry.get('edge-d') === undefined, 3000, 'edge-d detached');
  }),
);

/** A legit agent for `nodeName` that floods raw `frames`; it must end in GOAWAY FLOOD + a log line naming `what`. */
function flood(nodeName: string, ip: string, frames: (i: number) => Buffer, what: RegExp) {
  return (t: Test): Promise<void> =>
    undisturbed(t, async () => {
      const agent = await helloAgent(nodeName, [ip]);
      await waitFor(() => server.handle.registry.get(nodeName) !== undefined, 2000, `${nodeName} attached`);
      const started = performance.now();
      const batch: Buffer[] = [];
      for (let i = 0; i < 1_200; i++) batch.push(frames(i));
      agent.send(Buffer.concat(batch));
      await agent.closed;
      t.ok(performance.now() - started < 2000, `closed within ${(performance.now() - started).toFixed(0)} ms`);
      t.equal(agent.goAway()?.code, 'FLOOD', 'GOAWAY FLOOD');
      t.match(agent.goAway()?.reason, /control frames per second/);
      t.match(await logged('peer protocol error', (l) => l['code'] === 'FLOOD' && what.test(String(l['reason']))), { level: 40 });
      await waitFor(() => server.handle.registry.get(nodeName) === undefined, 2000, `${nodeName} detached`);
    });
}

t.test(
  'a flood of OPENs from the agent side: GOAWAY FLOOD',
  flood('edge-e', '127.0.20.5', (i) => openFrame(2 * i + 1), /refused OPEN/),
);
t.test(
  'a PING flood: GOAWAY FLOOD',
  flood('edge-f', '127.0.20.6', (i) => pingFrame(i), /PING/),
);
t.test(
  'a SETTINGS flood: GOAWAY FLOOD',
  flood('edge-g', '127.0.20.7', () => settingsFrame({ [Setting.KEEPALIVE_MS]: 1000 }), /SETTINGS/),
);
