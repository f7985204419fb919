import { createHash, randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import t from 'tap';
import type { Stream } from '@edge-tunnel/framing';
import { dialTcp } from '../src/relay.js';
import { httpGet, waitFor } from './fixtures/agent.js';
import { closedPort, collect, connected, streamError, target } from './fixtures/harness.js';
import { NODE_IP, NODE_NAME } from './fixtures/pki.js';

const meta = (host: string, port: number) => ({ host, port, kind: 'http', traceId: 'trace-1' });

t.test('hello: node name, node IPs, version, agent version; client cert names the node', async (t) => {
  const { session, server, agent } = await connected(t);
  t.same(session.peerHello, { nodeName: NODE_NAME, nodeIps: [NODE_IP], version: 1, agentVersion: '0.1.0', portCeiling: { node: '', localhost: '' } });
  t.equal(session.peerTakesConfig, true, "the agent takes CONFIG frames (the server's port config)");
  t.same(server.peerCertCn, [NODE_NAME]);
  await waitFor(() => agent.status().connected, 2000, 'connected');
  t.match(agent.status(), { connected: true, serverId: 'srv-test', attempts: 1, activeStreams: 0 });
});

t.test('refusals over the wire', async (t) => {
  const dead = await closedPort();
  const { session } = await connected(t, { config: { allowPorts: [{ lo: dead, hi: dead }] } });
  const foreign = await streamError(session.open(meta('127.0.0.3', 10250)));
  t.match(foreign, {
    wireCode: 'REFUSED',
    reason: /^127\.0\.0\.3:10250 is not allowed by edge-tunnel-agent on edge-1: host 127\.0\.0\.3 is not an address of this node \(allowed: /,
  });
  const port = await streamError(session.open(meta(NODE_IP, 22)));
  t.match(port, { wireCode: 'REFUSED', reason: /port 22 is not an allowed node port/ });
  const failed = await streamError(session.open(meta(NODE_IP, dead)));
  t.match(failed, { wireCode: 'CONNECT_FAILED', reason: new RegExp(`^dial ${NODE_IP}:${dead}: ECONNREFUSED`) });
});

t.test('dial timeout refuses with TIMEOUT and does not block other streams', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const blackhole = 10255;
  const dialTarget = (host: string, port: number) => (port === blackhole ? new Socket() : dialTcp(host, port));
  const { session } = await connected(t, { config: { dialTimeoutMs: 400, allowPorts: [{ lo: echo.port, hi: echo.port }] }, deps: { dialTarget } });
  const started = performance.now();
  const hung = streamError(session.open(meta(NODE_IP, blackhole)));
  const other = session.open(meta(NODE_IP, echo.port));
  other.end('ping');
  t.equal((await collect(other)).toString(), 'ping');
  t.ok(performance.now() - started < 300, 'the other stream finished while the dial was hanging');
  const err = await hung;
  t.match(err, { wireCode: 'TIMEOUT', reason: `dial ${NODE_IP}:${blackhole} timed out after 400 ms` });
  t.ok(performance.now() - started >= 390, 'timeout waited for the deadline');
});

t.test("once connected, nothing of the dial stays on the target socket (one error listener: the relay's)", async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const dialed: Socket[] = [];
  const dialTarget = (host: string, port: number) => dialed[dialed.push(dialTcp(host, port)) - 1]!;
  const { session } = await connected(t, { config: { allowPorts: [{ lo: echo.port, hi: echo.port }] }, deps: { dialTarget } });
  const stream = session.open(meta(NODE_IP, echo.port));
  stream.write('ping');
  t.equal(String(await new Promise((r) => stream.once('data', r))), 'ping', 'relayed');
  const socket = dialed[0]!;
  t.same(
    ['error', 'connect', 'data', 'drain'].map((e) => socket.listenerCount(e)),
    [1, 0, 1, 1],
    'error, connect, data, drain listeners',
  );
  stream.end();
  await collect(stream);
});

t.test('10 MiB round trip keeps every byte (SHA-256)', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const { session } = await connected(t, { config: { allowPorts: [{ lo: echo.port, hi: echo.port }] } });
  const data = randomBytes(10 * 1024 * 1024);
  const stream = session.open({ ...meta(NODE_IP, echo.port), compress: true });
  const back = collect(stream);
  for (let at = 0; at < data.length; at += 64 * 1024) {
    if (!stream.write(data.subarray(at, at + 64 * 1024))) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
  const got = await back;
  t.equal(got.length, data.length);
  t.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
});

/** Polls edge_tunnel_agent_bytes_total{direction} on the agent's /metrics until `ok(value)`; returns the value. */
async function bytesMetric(port: number, direction: 'in' | 'out', ok: (n: number) => boolean, what: string): Promise<number> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const { body } = await httpGet(port, '/metrics');
    const n = Number(new RegExp(`edge_tunnel_agent_bytes_total\\{direction="${direction}"\\} (\\d+)`).exec(body)?.[1] ?? 0);
    if (ok(n)) return n;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: bytes ${direction} = ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('byte counters: live while a stream runs (counted at each scrape), exact once it ends', async (t) => {
  const MiB = 1024 * 1024;
  const sink = await target(t, (s) => s.resume().once('end', () => s.end()));
  const { session, agent } = await connected(t, { config: { allowPorts: [{ lo: sink.port, hi: sink.port }] } });
  const stream = session.open(meta(NODE_IP, sink.port));
  const chunk = randomBytes(64 * 1024);
  for (let sent = 0; sent < 3 * MiB; sent += chunk.length) {
    if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
  }
  const live = await bytesMetric(agent.metaAddress.port, 'in', (n) => n >= 2 * MiB, '2 MiB counted while the stream is open');
  t.ok(live <= 3 * MiB, `${live} of 3 MiB counted before the stream ended`);
  stream.end('+7 bytes');
  await collect(stream);
  t.equal(await bytesMetric(agent.metaAddress.port, 'in', (n) => n > 3 * MiB, 'the rest after the end'), 3 * MiB + 8, 'in: exact once the stream ended');

  const source = await target(t, (s) => s.end(Buffer.alloc(MiB + 5)));
  const other = await connected(t, { config: { allowPorts: [{ lo: source.port, hi: source.port }] } });
  const back = other.session.open(meta(NODE_IP, source.port));
  back.end();
  t.equal((await collect(back)).length, MiB + 5);
  t.equal(await bytesMetric(other.agent.metaAddress.port, 'out', (n) => n > MiB, 'out counted'), MiB + 5, 'out: every byte the target sent');
});

t.test('half-close both ways', async (t) => {
  let received: Promise<Buffer> | undefined;
  const tgt = await target(t, (s) => {
    s.end('banner'); // the target is done writing first
    received = collect(s);
  });
  const { session } = await connected(t, { config: { allowPorts: [{ lo: tgt.port, hi: tgt.port }] } });
  const stream = session.open(meta(NODE_IP, tgt.port));
  t.equal((await collect(stream)).toString(), 'banner', 'target FIN reached the server');
  stream.write('written after the target half-closed');
  stream.end();
  const got = await waitFor(() => received, 2000, 'target connection');
  t.equal((await got).toString(), 'written after the target half-closed', 'server FIN reached the target after its data');
});

t.test('0-RTT bytes written before OPEN_OK reach the target', async (t) => {
  let received: Promise<Buffer> | undefined;
  const tgt = await target(t, (s) => {
    received = collect(s);
    s.end();
  });
  const { session } = await connected(t, { config: { allowPorts: [{ lo: tgt.port, hi: tgt.port }] } });
  const stream = session.open(meta(NODE_IP, tgt.port));
  let openedBeforeWrite = false;
  stream.once('opened', () => (openedBeforeWrite = true));
  stream.end('early bytes');
  t.equal(openedBeforeWrite, false);
  stream.resume();
  t.equal((await await waitFor(() => received, 2000, 'target connection')).toString(), 'early bytes');
});

t.test('localhost ports are dialed on 127.0.0.1', async (t) => {
  const tgt = await target(t, (s) => s.end('local'), '127.0.0.1');
  const { session } = await connected(t, { config: { localhostPorts: [{ lo: tgt.port, hi: tgt.port }] } });
  const stream = session.open(meta('127.0.0.1', tgt.port));
  stream.end();
  t.equal((await collect(stream)).toString(), 'local');
});

t.test('a RESET from the server drops the local connection at once', async (t) => {
  const tgt = await target(t, (s) => s.resume());
  const { session, agent } = await connected(t, { config: { allowPorts: [{ lo: tgt.port, hi: tgt.port }] } });
  const stream = session.open(meta(NODE_IP, tgt.port));
  await new Promise((r) => stream.once('opened', r));
  const local = await waitFor(() => tgt.sockets[0], 2000, 'target connection');
  await waitFor(() => agent.status().activeStreams === 1, 2000, 'active stream');
  const closed = new Promise((r) => local.once('end', r));
  stream.reset('CANCEL', 'caller went away');
  await closed;
  t.pass('target connection ended');
  await waitFor(() => agent.status().activeStreams === 0, 2000, 'no active stream');
});

t.test('--stream-idle-timeout-ms: a silent stream is reset with TIMEOUT, a busy one next to it stays', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const { session, lines } = await connected(t, { config: { streamIdleTimeoutMs: 300, allowPorts: [{ lo: echo.port, hi: echo.port }] } });
  const silent = session.open(meta(NODE_IP, echo.port));
  const busy = session.open(meta(NODE_IP, echo.port));
  busy.resume();
  const started = performance.now();
  const pinger = setInterval(() => busy.write('.'), 50);
  t.teardown(() => clearInterval(pinger));
  const err = await streamError(silent);
  const after = performance.now() - started;
  t.match(err, { wireCode: 'TIMEOUT', reason: new RegExp(`^target ${NODE_IP.replaceAll('.', '\\.')}:${echo.port}: no byte either way for 300 ms$`) });
  t.ok(after >= 290 && after < 1500, `closed after ${after.toFixed(0)} ms of quiet (limit 300, sweep ≤ 1.25 ×)`);
  t.notOk(busy.destroyed, 'the busy stream is still open');
  t.ok(
    lines.some((l) => l.msg === 'stream closed: idle timeout' && l.code === 'TIMEOUT'),
    'warn line for the operator',
  );
  clearInterval(pinger);
  busy.end();
  await collect(busy);
});

t.test('a local socket error resets the stream with CONNECT_FAILED', async (t) => {
  const tgt = await target(t, (s) => s.write('hi'));
  const { session } = await connected(t, { config: { allowPorts: [{ lo: tgt.port, hi: tgt.port }] } });
  const stream = session.open(meta(NODE_IP, tgt.port));
  const err = streamError(stream);
  await new Promise((r) => stream.once('data', r));
  tgt.sockets[0]!.resetAndDestroy();
  t.match(await err, { wireCode: 'CONNECT_FAILED', reason: /^target 127\.0\.0\.2:\d+: ECONNRESET/ });
});

t.test('--max-streams N: the server learns N and cannot open stream N+1; N+1 sent anyway is refused', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const allow = { maxStreams: 3, allowPorts: [{ lo: echo.port, hi: echo.port }] };
  const { session, server } = await connected(t, { config: allow });
  t.equal(session.peer?.maxStreams, 3, 'the agent announced its limit in SETTINGS');
  const open = (on = session): Stream => on.open(meta(NODE_IP, echo.port)).on('error', () => {});
  const streams = [open(), open(), open()];
  for (const [i, s] of streams.entries()) {
    s.write(`s${i}`);
    t.equal(String(await new Promise((r) => s.once('data', r))), `s${i}`, `stream ${i + 1} of 3 relays`);
  }
  t.throws(
    open,
    { code: 'ERR_FRAMING_STREAM_LIMIT', message: 'the peer accepts at most 3 concurrent streams' },
    "stream 4 is refused by the server's own framing",
  );
  streams[0]!.end();
  await collect(streams[0]!);
  await waitFor(() => streams[0]!.destroyed, 2000, 'stream 1 closed');
  const again = open();
  again.end('again');
  t.equal((await collect(again)).toString(), 'again', 'a finished stream frees its slot');

  // a server that opens streams before the agent's SETTINGS reach it (0-RTT) cannot know the limit:
  // the agent admits 3 and refuses the 4th on the wire
  const earlyStreams: Stream[] = [];
  let refusal: ReturnType<typeof streamError> | undefined;
  server.onSession = (early) => {
    server.onSession = undefined;
    earlyStreams.push(...[0, 1, 2, 3].map(() => open(early)));
    refusal = streamError(earlyStreams[3]!);
  };
  session.destroy(); // the agent reconnects (no spread in the fixture config)
  await waitFor(() => earlyStreams.length === 4, 5000, 'the early session');
  for (const s of earlyStreams.slice(0, 3)) s.write('x');
  const refused = await refusal!;
  t.match(refused, { wireCode: 'REFUSED', reason: 'too many streams (max 3)' });
  for (const s of earlyStreams.slice(0, 3)) t.equal(String(await new Promise((r) => s.once('data', r))), 'x', 'an admitted early stream relays');
});
