// Hostile input at the proxy listeners and the agent port: each attack gets a precise refusal and a
// log line with its reason, and a normal request loop running next to it stays intact.
import t, { type Test } from 'tap';
import { connect as netConnect } from 'node:net';
import { encodeFrame, FrameType, Setting } from '@edge-tunnel/framing';
import { connectAgent, sleep, startNode, startServer } from './fixtures/harness.js';
import { hardenedListener, rawExchange, statusOf, steadyTraffic } from './fixtures/hostile.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const NODE = '127.0.20.1:10255';

const server = await startServer(t, pki, ['--connect-addr', '127.0.0.1:0']);
const node = await startNode(t, pki, server, 'edge-a', '127.0.20.1', {
  refuse: (m) => (m.kind === 'connect' && m.port === 10250 ? 'port 10250 is closed for CONNECT on edge-a' : undefined),
});
const proxy = await hardenedListener(t, server, { headersTimeoutMs: 400 });
const warned = (reason: string): Promise<Record<string, unknown>> =>
  server.logs.waitFor((l) => l['msg'] === 'bad request from caller' && l['reason'] === reason && l['level'] === 40);

t.test('malformed requests: 400 MALFORMED_REQUEST, a warn line, no stream opened', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const opens = node.agent.opens.length;
  for (const raw of [
    '\x16\x03\x01\x02\x00 tls at an http port\r\n\r\n',
    'GET / HTTP/1.1\nHost: a\n\n',
    'GET / HTTP/1.1\r\nHo st: x\r\n\r\n',
    'GET / HTTP/9.9\r\n\r\n',
  ]) {
    const res = await rawExchange(proxy.addr, [raw]);
    t.equal(statusOf(res.text), 400, `400 for ${JSON.stringify(raw.slice(0, 20))}`);
    t.match(res.text, /X-Tunnel-Error: MALFORMED_REQUEST[\s\S]*edge-tunnel: MALFORMED_REQUEST: the request could not be parsed \(HPE_/);
  }
  t.match(await warned('MALFORMED_REQUEST'), { listener: 'http', status: 400, code: /^HPE_/ });
  const { ok, bad } = await traffic.stop();
  t.same(bad, [], `${ok} parallel requests intact`);
  t.equal(node.agent.opens.length - opens, ok, 'only the normal requests reached the agent');
});

t.test('oversized request head: 431 HEADERS_TOO_LARGE', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const res = await rawExchange(proxy.addr, [`GET /pods HTTP/1.1\r\nHost: ${NODE}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]);
  t.equal(statusOf(res.text), 431);
  t.match(res.text, /edge-tunnel: HEADERS_TOO_LARGE/);
  t.match(await warned('HEADERS_TOO_LARGE'), { code: 'HPE_HEADER_OVERFLOW' });
  const { bad } = await traffic.stop();
  t.same(bad, []);
});

t.test('slowloris: a head trickled byte by byte gets 408 after the headers timeout', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const trickle = [`GET /pods HTTP/1.1\r\nHost: ${NODE}\r\n`, ...'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'.split('')];
  const res = await rawExchange(proxy.addr, trickle, 50, 5_000);
  t.equal(statusOf(res.text), 408, '408 Request Timeout');
  t.match(res.text, /REQUEST_TIMEOUT/);
  t.ok(res.ms < 400 + 1_500, `closed after ${res.ms.toFixed(0)} ms (headers timeout 400 ms)`);
  t.match(await warned('REQUEST_TIMEOUT'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
  const { bad } = await traffic.stop();
  t.same(bad, []);
});

t.test('request smuggling attempts are refused before any stream opens', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const before = node.agent.opens.filter((o) => o.kind === 'http').length;
  const attempts: Array<[string, number, RegExp]> = [
    [
      `POST /pods HTTP/1.1\r\nHost: ${NODE}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${NODE}\r\n\r\n`,
      400,
      /AMBIGUOUS_BODY/,
    ],
    [`POST /pods HTTP/1.1\r\nHost: ${NODE}\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd`, 400, /AMBIGUOUS_BODY/],
    [`POST /pods HTTP/1.1\r\nHost: ${NODE}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 400, /AMBIGUOUS_BODY/],
    [`POST /pods HTTP/1.1\r\nHost: ${NODE}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, 400, /MALFORMED_REQUEST/],
    [`GET /pods HTTP/1.1\r\nHost: ${NODE}\r\nHost: 127.0.20.2:10255\r\nConnection: close\r\n\r\n`, 400, /BAD_DESTINATION.*more than one Host/],
  ];
  for (const [raw, status, body] of attempts) {
    const res = await rawExchange(proxy.addr, [raw]);
    t.equal(statusOf(res.text), status, `refused: ${raw.split('\r\n').slice(1, 3).join(' | ')}`);
    t.match(res.text, body);
    t.notMatch(res.text, /smuggled|PodList[\s\S]*HTTP\/1\.1/, 'no second response');
  }
  t.match(await warned('AMBIGUOUS_BODY'), { code: /HPE_(INVALID_TRANSFER_ENCODING|UNEXPECTED_CONTENT_LENGTH)/ });
  t.ok(
    server.logs.find((l) => l['msg'] === 'audit' && l['reason'] === 'BAD_DESTINATION' && l['status'] === 400),
    'audit line for the duplicate Host',
  );
  const { ok, bad } = await traffic.stop();
  t.same(bad, []);
  t.equal(node.agent.opens.filter((o) => o.kind === 'http').length - before, ok, 'no attempt reached the agent');
});

t.test('CONNECT to forbidden targets: each refused with its status and reason', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const connect = server.addr.connect!;
  const cases: Array<[string, number, string]> = [
    ['169.254.169.254:10250', 502, 'NODE_UNKNOWN'],
    ['127.0.0.1:10255', 502, 'NODE_UNKNOWN'],
    ['127.0.0.1:22', 403, 'PORT_NOT_CONFIGURED'],
    ['127.0.20.1:22', 403, 'PORT_NOT_CONFIGURED'],
    ['edge-a:6443', 403, 'PORT_NOT_CONFIGURED'],
    ['127.0.20.1:10250', 403, 'REFUSED'],
    ['edge-a:99999', 400, 'BAD_DESTINATION'],
  ];
  for (const [target, status, reason] of cases) {
    const res = await rawExchange(connect, [`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`]);
    t.equal(statusOf(res.text), status, `CONNECT ${target}: ${status}`);
    t.match(res.text, new RegExp(`X-Tunnel-Error: ${reason}`));
    await server.logs.waitFor((l) => l['msg'] === 'audit' && l['listener'] === 'connect' && l['reason'] === reason);
  }
  t.match(
    server.logs.find((l) => l['msg'] === 'audit' && l['reason'] === 'REFUSED'),
    { status: 403, nodeName: 'edge-a' },
  );
  const garbage = await rawExchange(connect, ['CONNECT\r\n\r\n']);
  t.equal(statusOf(garbage.text), 400, 'a malformed CONNECT line: 400');
  t.ok(
    server.logs.find((l) => l['msg'] === 'bad request from caller' && l['listener'] === 'connect'),
    'warn line from the CONNECT listener',
  );
  const { bad } = await traffic.stop();
  t.same(bad, []);
});

t.test('upgrade abuse: upgrades to unknown nodes, unconfigured ports or with two Hosts get raw refusals', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const up = (host: string, extra = ''): string => `GET /exec HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`;
  const cases: Array<[string, number, string]> = [
    [up('127.0.99.9:10255'), 502, 'NODE_UNKNOWN'],
    [up('127.0.20.1:22'), 403, 'PORT_NOT_CONFIGURED'],
    [up(NODE, 'Host: 127.0.99.9:10255\r\n'), 400, 'BAD_DESTINATION'],
    ['GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n', 400, 'NO_DESTINATION'],
  ];
  for (const [raw, status, reason] of cases) {
    const res = await rawExchange(proxy.addr, [raw]);
    t.equal(statusOf(res.text), status, `${reason}: ${status}`);
    t.match(res.text, new RegExp(`X-Tunnel-Error: ${reason}`));
  }
  // an upgrade the kubelet does not take answers its own status and ends; nothing else rides on it
  const res = await rawExchange(proxy.addr, [up(NODE)]);
  t.notOk(/^HTTP\/1\.1 101/.test(res.text), `the kubelet did not switch protocols (${res.text.split('\r\n')[0]})`);
  const { bad } = await traffic.stop();
  t.same(bad, []);
});

t.test('agent port: TLS garbage is logged and dropped', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  await new Promise<void>((resolve) => {
    const s = netConnect(server.addr.agent.port, server.addr.agent.host);
    s.on('error', () => {});
    s.on('close', () => resolve());
    s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.write(Buffer.alloc(2048, 0x17));
  });
  // refused before any TLS state exists: the first byte is not a TLS handshake record
  t.match(await server.logs.waitFor((l) => l['msg'] === 'connection refused before its tls handshake'), { level: 40, listener: 'agent', reason: 'not_tls' });
  const { bad } = await traffic.stop();
  t.same(bad, []);
});

t.test('agent port: a hello that lies about its node is refused with GOAWAY REFUSED', async (t) => {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const liar = await connectAgent(t, pki, server, 'edge-b', ['127.0.20.2'], { nodeName: 'edge-a' });
  const goaway = await new Promise<{ code: string; reason: string }>((r) => {
    if (liar.goaways.length > 0) return r(liar.goaways[0]!);
    liar.session.once('goaway', r);
  });
  t.equal(goaway.code, 'REFUSED');
  t.match(await server.logs.waitFor((l) => l['msg'] === 'agent refused: identity mismatch'), {
    level: 40,
    certNode: 'edge-b',
    helloNode: 'edge-a',
    reason: String,
  });
  t.equal(server.handle.registry.get('edge-a')?.session, server.handle.registry.get('edge-a')?.session, 'edge-a keeps its session');
  t.notOk(server.handle.registry.get('edge-b'), 'the liar was not registered');
  const { bad } = await traffic.stop();
  t.same(bad, []);
});

/** A legitimate edge-b agent that then floods; its session must end in GOAWAY FLOOD. */
async function floodFrom(t: Test, flood: (agent: Awaited<ReturnType<typeof connectAgent>>) => void, what: string): Promise<void> {
  const traffic = steadyTraffic(proxy.addr, NODE);
  const agent = await connectAgent(t, pki, server, 'edge-b', ['127.0.20.2']);
  await sleep(50);
  const closed = new Promise<void>((r) => agent.session.once('close', () => r()));
  const edgeA = server.handle.registry.get('edge-a')!.session;
  flood(agent);
  await closed;
  if (what !== 'refused OPEN') t.equal(agent.goaways.at(-1)?.code, 'FLOOD', `${what}: GOAWAY FLOOD`);
  t.equal(server.handle.registry.get('edge-b'), undefined, 'the flooding session is gone');
  t.match(await server.logs.waitFor((l) => l['msg'] === 'peer protocol error' && l['code'] === 'FLOOD' && new RegExp(what).test(String(l['reason']))), {
    level: 40,
  });
  t.equal(server.handle.registry.get('edge-a')?.session, edgeA, 'edge-a keeps its session');
  t.equal(edgeA.destroyed, false);
  const { ok, bad } = await traffic.stop();
  t.same(bad, [], `${ok} requests to edge-a intact during the ${what} flood`);
}

t.test('agent port: a flood of OPENs ends in GOAWAY FLOOD', (t) =>
  floodFrom(
    t,
    (agent) => {
      for (let i = 0; i < 1_100; i++) {
        try {
          agent.session.open({ host: '127.0.0.1', port: 1 }).on('error', () => {});
        } catch {
          break;
        }
      }
    },
    'refused OPEN',
  ),
);

t.test('agent port: a PING flood ends in GOAWAY FLOOD', (t) =>
  floodFrom(
    t,
    (agent) => {
      for (let i = 0; i < 1_100; i++) void agent.session.ping().catch(() => {});
    },
    'PING',
  ),
);

t.test('agent port: a SETTINGS flood ends in GOAWAY FLOOD', (t) =>
  floodFrom(
    t,
    (agent) => {
      const payload = Buffer.alloc(2 + 6);
      payload.writeUInt16BE(1, 0);
      payload.writeUInt16BE(Setting.KEEPALIVE_MS, 2);
      payload.writeUInt32BE(1000, 4);
      const settings = encodeFrame(FrameType.SETTINGS, 0, 0, payload);
      for (let i = 0; i < 1_100; i++) agent.session.writer.sendControl(settings);
    },
    'SETTINGS',
  ),
);

// The per-node stream limit is tested in test/limits.test.ts, against a target that holds streams open.
