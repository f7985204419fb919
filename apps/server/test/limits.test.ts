// Limits, each an option with a default: per-node concurrent streams (503 STREAM_LIMIT), the relay
// idle timeout (RESET TIMEOUT, audit IDLE_TIMEOUT), the pending-dial timeout (504 TIMEOUT) and the
// drain deadline of a replaced session (stragglers reset with GOING_AWAY). Then the proxy limit flags:
// one server started with every one of them small, one test per flag against its real listeners.
import t from 'tap';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type Socket } from 'node:net';
import { FrameType, SESSION_DEFAULTS, type Stream } from '@edge-tunnel/framing';
import { connectAgent, send, startServer, waitAttached, waitFor } from './fixtures/harness.js';
import { hardenedListener, rawExchange, statusOf } from './fixtures/hostile.js';
import { helloFrame, rawAgent } from './fixtures/raw-agent.js';
import { testPki } from './fixtures/pki.js';
import { createConnectServer } from '../src/proxy/connect.js';
import { DEFAULT_MAX_STREAMS_PER_NODE, DEFAULT_RELAY_IDLE_TIMEOUT_MS, type ProxyContext } from '../src/proxy/context.js';
import { openStreamsToNode } from '../src/proxy/tunnel.js';
import { DEFAULT_STREAM_QUOTAS } from '../src/proxy/stream-quota.js';

const pki = await testPki();
const IP = '127.0.20.9';
const HELD = `${IP}:10255`;

// a target that accepts and never says a word: every stream to it stays open
const holding = createNetServer((s) => (held.add(s), s.on('error', () => {}), s.on('close', () => held.delete(s))));
const held = new Set<Socket>();
await new Promise<void>((r) => holding.listen(0, IP, r));
t.teardown(() => (held.forEach((s) => s.destroy()), holding.close()));
const holdPort = (holding.address() as { port: number }).port;

const server = await startServer(t, pki, ['--drain-timeout-ms', '1000']);
/** streams the edge-h agent accepted, to read their reset codes */
const agentStreams: Stream[] = [];
const agent = await connectAgent(t, pki, server, 'edge-h', [IP], { portMap: { 10255: holdPort } });
agent.session.on('stream', (s: Stream) => agentStreams.push(s));
await waitAttached(server, 'edge-h', agent);

/** A request to the holding node that stays open until destroyed. */
function holdRequest(port: number, host = '127.0.0.1'): { req: ClientRequest; status: Promise<number> } {
  const req = httpRequest({ host, port, path: '/hold', headers: { host: HELD }, agent: false });
  const status = new Promise<number>((resolve) => {
    req.on('response', (res) => (res.resume(), resolve(res.statusCode ?? 0)));
    req.on('error', () => resolve(0));
  });
  req.end();
  return { req, status };
}

/** CONNECT to the holding target through `port`, then silence: the answer, and when the caller was closed after it. */
async function silentConnect(port: number): Promise<{ answer: string; closedAfterMs: number }> {
  const s = netConnect(port, '127.0.0.1');
  let answer = '';
  s.on('data', (b: Buffer) => (answer += b.toString()));
  s.on('error', () => {});
  const closed = new Promise<number>((r) => s.once('close', () => r(performance.now())));
  s.write(`CONNECT ${HELD} HTTP/1.1\r\nHost: ${HELD}\r\n\r\n`);
  await waitFor(() => answer.includes('\r\n\r\n'), 2000, 'CONNECT answered');
  const established = performance.now();
  return { answer, closedAfterMs: (await closed) - established };
}

t.test('defaults are named constants', async (t) => {
  t.equal(DEFAULT_MAX_STREAMS_PER_NODE, 1024);
  t.equal(DEFAULT_RELAY_IDLE_TIMEOUT_MS, 4 * 60 * 60 * 1000);
  t.equal(SESSION_DEFAULTS.maxStreams, 1024, 'per-session concurrent streams');
  t.equal(SESSION_DEFAULTS.openTimeoutMs, 10_000, 'pending-dial timeout');
  t.equal(server.handle.registry.get('edge-h') !== undefined, true);
});

t.test('per-node concurrent streams: the excess gets 503 STREAM_LIMIT and a warn line; capacity returns', async (t) => {
  // every stream here comes from one unauthenticated address: the shares under the cap are opened up
  const limited = await hardenedListener(
    t,
    server,
    {},
    { maxStreamsPerNode: 2, streamQuotas: { ...DEFAULT_STREAM_QUOTAS, unauthenticatedShare: 100, sourceShare: 100 } },
  );
  const hold = [holdRequest(limited.addr.port), holdRequest(limited.addr.port)];
  await waitFor(() => openStreamsToNode(limited.ctx, 'edge-h') === 2, 2000, 'two held streams');
  const third = await send(limited.addr, { path: '/pods', headers: { host: HELD } });
  t.equal(third.status, 503);
  t.equal(third.headers['x-tunnel-error'], 'STREAM_LIMIT');
  // :10264 takes no credentials: the body has no limit or node name, the audit line has both
  t.match(third.body, /too many streams are open to its edge node; retry later/);
  t.notMatch(third.body, /edge-h|limit 2/);
  t.match((await server.logs.waitFor((l) => l['msg'] === 'audit' && l['reason'] === 'STREAM_LIMIT'))['detail'], /2 streams are open to this node \(limit 2\)/);
  t.ok(third.ms < 500, `answered in ${third.ms.toFixed(0)} ms`);
  t.match(await server.logs.waitFor((l) => l['msg'] === 'stream refused: node stream limit'), { level: 40, nodeName: 'edge-h' });
  for (const h of hold) h.req.destroy();
  await waitFor(() => openStreamsToNode(limited.ctx, 'edge-h') === 0, 2000, 'streams released');
  const again = holdRequest(limited.addr.port);
  await waitFor(() => openStreamsToNode(limited.ctx, 'edge-h') === 1, 2000, 'a new stream opens after the others left');
  again.req.destroy();
  await waitFor(() => openStreamsToNode(limited.ctx, 'edge-h') === 0, 2000, 'released');
});

t.test('relay idle timeout: a silent CONNECT relay is reset with TIMEOUT, audit reason IDLE_TIMEOUT', async (t) => {
  const base = await hardenedListener(t, server);
  const ctx: ProxyContext = { ...base.ctx, listener: 'connect', relayIdleTimeoutMs: 300 };
  const connect = createConnectServer(ctx);
  await new Promise<void>((r) => connect.listen(0, '127.0.0.1', r));
  t.teardown(() => (connect.closeAllConnections(), connect.close()));
  const port = (connect.address() as { port: number }).port;
  const before = agentStreams.length;
  const { answer, closedAfterMs: ms } = await silentConnect(port);
  t.match(answer, /^HTTP\/1\.1 200/);
  t.ok(ms >= 250 && ms < 1500, `caller closed ${ms.toFixed(0)} ms after the last byte (idle limit 300 ms)`);
  // by kind: the OPEN of a stream an earlier test cancelled may reach the agent only now
  const relayed = (): Stream | undefined => agentStreams.slice(before).find((x) => x.meta.kind === 'connect');
  await waitFor(() => relayed()?.resetCode !== undefined, 2000, 'agent-side reset');
  t.equal(relayed()!.resetCode, 'TIMEOUT', 'the agent saw RESET TIMEOUT');
  t.match(await server.logs.waitFor((l) => l['msg'] === 'relay closed: idle timeout'), { level: 40, nodeName: 'edge-h', listener: 'connect' });
  t.match(await server.logs.waitFor((l) => l['msg'] === 'audit' && l['reason'] === 'IDLE_TIMEOUT'), { listener: 'connect', status: 200, nodeName: 'edge-h' });
});

t.test('pending-dial timeout: an agent that never answers OPEN gives 504 TIMEOUT after --open-timeout-ms', async (t) => {
  const slow = await startServer(t, pki, ['--open-timeout-ms', '400']);
  const cert = await pki.agent('edge-s', ['127.0.20.11']);
  const mute = await rawAgent(slow.addr.agent, { cert: cert.certPem, key: cert.keyPem, ca: pki.agentCa.certPem });
  t.teardown(() => void mute.socket.destroy());
  mute.send(helloFrame('edge-s', ['127.0.20.11']));
  await waitFor(() => slow.handle.registry.get('edge-s') !== undefined, 2000, 'edge-s attached');
  const r = await send(slow.addr.http, { path: '/pods', headers: { host: '127.0.20.11:10255' } });
  t.equal(r.status, 504);
  t.equal(r.headers['x-tunnel-error'], 'TIMEOUT');
  t.ok(r.ms >= 350 && r.ms < 1500, `answered after ${r.ms.toFixed(0)} ms (limit 400 ms)`);
  t.ok(
    mute.frames.some((f) => f.type === FrameType.OPEN),
    'the OPEN reached the agent',
  );
  await waitFor(() => mute.resets().size > 0, 1000, 'RESET of the pending stream');
  t.equal([...mute.resets().values()][0]?.code, 'TIMEOUT', 'the pending stream is reset with TIMEOUT');
  t.ok(slow.handle.registry.get('edge-s'), 'the session itself stays');
});

t.test('drain deadline: a replaced session resets its stragglers with GOING_AWAY after --drain-timeout-ms', async (t) => {
  const before = agentStreams.length;
  const straggler = holdRequest(server.addr.http.port, server.addr.http.host);
  const live = (): Stream | undefined => agentStreams.slice(before).find((x) => x.opened && x.resetCode === undefined);
  await waitFor(() => live() !== undefined, 2000, 'held stream open');
  const stream = live()!;
  const replaced = performance.now();
  const fresh = await connectAgent(t, pki, server, 'edge-h', [IP], { portMap: { 10255: holdPort } });
  await waitAttached(server, 'edge-h', fresh);
  await waitFor(() => agent.goaways.length > 0, 1000, 'GOAWAY to the old session');
  t.equal(agent.goaways[0]?.code, 'NO_ERROR', 'the replaced session is told to go away');
  t.equal(stream.resetCode, undefined, 'the straggler still runs during the drain');
  await waitFor(() => stream.resetCode !== undefined, 3000, 'straggler reset');
  const ms = performance.now() - replaced;
  t.equal(stream.resetCode, 'GOING_AWAY');
  t.ok(ms >= 800 && ms < 2500, `reset ${ms.toFixed(0)} ms after the replacement (deadline 1000 ms)`);
  t.equal(await straggler.status, 503, 'the caller gets 503 (no response had started)');
  await waitFor(() => agent.session.destroyed, 2000, 'old session closed');
  t.equal(server.handle.registry.get('edge-h')?.remoteAddress, `${fresh.socket.localAddress}:${fresh.socket.localPort}`, 'edge-h is served by the new session');
});

/** One server whose proxy limits all come from flags, far below their defaults. */
const flagged = await startServer(t, pki, [
  '--connect-addr',
  '127.0.0.1:0',
  '--max-streams-per-node',
  '2',
  '--unauthenticated-stream-share',
  '100',
  '--source-stream-share',
  '100',
  '--headers-timeout-ms',
  '400',
  '--request-timeout-ms',
  '1500',
  '--max-header-bytes',
  '2048',
  '--relay-idle-timeout-ms',
  '300',
]);
const flaggedAgent = await connectAgent(t, pki, flagged, 'edge-h', [IP], { portMap: { 10255: holdPort } });
await waitAttached(flagged, 'edge-h', flaggedAgent);
const flaggedStreams = (): number => openStreamsToNode({ registry: flagged.handle.registry }, 'edge-h');

t.test('--max-streams-per-node 2: the third concurrent stream to a node gets 503 STREAM_LIMIT (default 1024)', async (t) => {
  const hold = [holdRequest(flagged.addr.http.port), holdRequest(flagged.addr.http.port)];
  await waitFor(() => flaggedStreams() === 2, 2000, 'two held streams');
  const third = await send(flagged.addr.http, { path: '/pods', headers: { host: HELD } });
  t.equal(third.status, 503);
  t.equal(third.headers['x-tunnel-error'], 'STREAM_LIMIT');
  t.match(third.body, /too many streams are open to its edge node; retry later/);
  t.match((await flagged.logs.waitFor((l) => l['msg'] === 'audit' && l['reason'] === 'STREAM_LIMIT'))['detail'], /2 streams are open to this node \(limit 2\)/);
  for (const h of hold) h.req.destroy();
  await waitFor(() => flaggedStreams() === 0, 2000, 'streams released');
});

t.test('--headers-timeout-ms 400: a slowloris head gets 408 after about 400 ms (default 10 s)', async (t) => {
  const trickle = [`GET /pods HTTP/1.1\r\nHost: ${HELD}\r\n`, ...'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'.split('')];
  const res = await rawExchange(flagged.addr.http, trickle, 50, 5_000);
  t.equal(statusOf(res.text), 408);
  t.match(res.text, /X-Tunnel-Error: REQUEST_TIMEOUT/);
  t.ok(res.ms >= 350 && res.ms < 400 + 1_500, `cut after ${res.ms.toFixed(0)} ms (headers timeout 400 ms, default 10000 ms)`);
});

t.test('--request-timeout-ms 1500: a complete head with a trickled body gets 408 after about 1500 ms (default 300 s)', async (t) => {
  const head = `POST /hold HTTP/1.1\r\nHost: ${HELD}\r\nContent-Length: 1000\r\n\r\n`;
  const res = await rawExchange(flagged.addr.http, [head, ...'b'.repeat(100).split('')], 50, 6_000);
  t.equal(statusOf(res.text), 408);
  t.match(res.text, /X-Tunnel-Error: REQUEST_TIMEOUT/);
  t.ok(res.ms >= 1_400 && res.ms < 1_500 + 2_000, `cut after ${res.ms.toFixed(0)} ms (request timeout 1500 ms; the head came at once, headers timeout 400 ms)`);
});

t.test('--max-header-bytes 2048: a 4 KiB head gets 431 (default 16 KiB), a 1 KiB head is routed', async (t) => {
  const big = await rawExchange(flagged.addr.http, [`GET /pods HTTP/1.1\r\nHost: ${HELD}\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`]);
  t.equal(statusOf(big.text), 431);
  t.match(big.text, /X-Tunnel-Error: HEADERS_TOO_LARGE/);
  const small = await send(flagged.addr.http, { path: '/pods', headers: { host: '127.0.20.99:10255', 'x-big': 'a'.repeat(1024) } });
  t.equal(small.headers['x-tunnel-error'], 'NODE_UNKNOWN', 'parsed and routed: the unknown node is the only complaint');
});

t.test('--relay-idle-timeout-ms 300: a silent CONNECT relay closes after about 300 ms (default 4 h)', async (t) => {
  const { answer, closedAfterMs: ms } = await silentConnect(flagged.addr.connect!.port);
  t.match(answer, /^HTTP\/1\.1 200/);
  t.ok(ms >= 250 && ms < 1500, `closed ${ms.toFixed(0)} ms after the last byte (idle limit 300 ms)`);
  t.match(await flagged.logs.waitFor((l) => l['msg'] === 'audit' && l['reason'] === 'IDLE_TIMEOUT'), { listener: 'connect', nodeName: 'edge-h' });
});
