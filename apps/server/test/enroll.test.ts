// Enrollment on the agent port (ALPN edge-tunnel-enroll/1): real TLS on 127.0.0.1 port 0, a fake
// Enroller that signs with libs/pki, and the agent listener exactly as start() builds it.
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { Session } from '@edge-tunnel/framing';
import { PkiError, certIdentity, createCsr, signCsr } from '@edge-tunnel/pki';
import { pino } from 'pino';
import t from 'tap';
import type { Test } from 'tap';
import { createAgentListener } from '../src/agents/agent-listener.js';
import type { AgentListenerOptions } from '../src/agents/agent-listener.js';
import { AgentAlpn, ENROLL_MAX_BODY_BYTES, createEnrollHandler } from '../src/agents/enroll.js';
import type { Enroller } from '../src/agents/enroll.js';
import { AgentRegistry } from '../src/agents/registry.js';
import { ServerMetrics } from '../src/metrics.js';
import { LogCapture, defaultConfig, sleep, waitFor } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';
import type { TestPki } from './fixtures/pki.js';

const pki = await testPki();
t.setTimeout(60_000);
const TOKEN = 'abcdef.0123456789abcdef';
const NODES: Record<string, string[]> = { 'edge-a': ['127.0.20.1'] };

const kubeError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

/** Checks token, then node, then signs, with libs/kube's error codes. */
function fakeEnroller(p: TestPki): Enroller & { calls: number } {
  return {
    calls: 0,
    async enroll({ token, nodeName, csrPem }) {
      this.calls += 1;
      if (token !== TOKEN) throw kubeError('ERR_KUBE_ENROLL_BAD_TOKEN', 'the bootstrap token is not valid: it matches no token key');
      if (nodeName === 'explode') throw new Error('apiserver said 500 with secret internals');
      const ips = NODES[nodeName];
      if (!ips) throw kubeError('ERR_KUBE_ENROLL_UNKNOWN_NODE', `node ${nodeName} does not exist in the cluster`);
      try {
        return await signCsr(p.agentCa, csrPem, { nodeName, ips, validityDays: 1 });
      } catch (err) {
        if (err instanceof PkiError) throw kubeError('ERR_KUBE_ENROLL_BAD_CSR', `the certificate signing request was refused: ${err.message}`);
        throw err;
      }
    },
  };
}

interface Listener {
  port: number;
  logs: LogCapture;
  registry: AgentRegistry;
}

async function startListener(t: Test, extra: Partial<AgentListenerOptions> = {}): Promise<Listener> {
  const logs = new LogCapture();
  const registry = new AgentRegistry();
  const listener = createAgentListener(
    {
      ...defaultConfig(),
      cert: pki.server.certPem,
      key: pki.server.keyPem,
      agentCa: pki.agentCa.certPem,
      serverId: 'srv-enroll',
      compression: false,
      keepaliveIntervalMs: 1000,
      keepaliveTimeoutMs: 5000,
      openTimeoutMs: 2000,
      helloTimeoutMs: 2000,
      drainTimeoutMs: 200,
      ...extra,
    },
    registry,
    new ServerMetrics(registry),
    pino({ level: 'debug' }, logs.stream),
  );
  listener.server.listen(0, '127.0.0.1');
  await once(listener.server, 'listening');
  t.teardown(() => {
    for (const s of listener.sessions) s.destroy();
    return new Promise<void>((r) => listener.server.close(() => r()));
  });
  return { port: (listener.server.address() as AddressInfo).port, logs, registry };
}

function tlsTo(port: number, alpn: string[] | undefined, cert?: { certPem: string; keyPem: string }): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: pki.agentCa.certPem,
    servername: 'localhost',
    ALPNProtocols: alpn,
    cert: cert?.certPem,
    key: cert?.keyPem,
  });
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

interface Answer {
  status: number;
  body: Record<string, string>;
  headers?: Record<string, unknown>;
}

/** One enrollment request over its own TLS connection; `body` is sent as given when a string. */
async function post(
  port: number,
  opts: { token?: string; body?: unknown; path?: string; method?: string; cert?: { certPem: string; keyPem: string } } = {},
): Promise<Answer> {
  const socket = await tlsTo(port, [AgentAlpn.ENROLL], opts.cert);
  const payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body ?? {});
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        createConnection: () => socket,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/v1/enroll',
        headers: { 'content-type': 'application/json', ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}) },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (s: string) => (text += s))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, string>, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.method === 'GET' ? undefined : payload);
  });
}

const csrFor = (nodeName: string): string => createCsr(pki.key, nodeName);

t.test('a good token gets a certificate for the node, and that certificate opens a session', async (t) => {
  const enroller = fakeEnroller(pki);
  const l = await startListener(t, { enroller });
  const { status, body } = await post(l.port, { token: TOKEN, body: { nodeName: 'edge-a', csr: csrFor('claims-another-name') } });
  t.equal(status, 200);
  t.equal(body['ca'], pki.agentCa.certPem);
  const id = certIdentity(body['certificate']!);
  t.equal(id.commonName, 'edge-a', 'CN is the node name, whatever the CSR claims');
  t.same(id.ips, ['127.0.20.1']);
  t.ok(new X509Certificate(body['certificate']!).verify(new X509Certificate(pki.agentCa.certPem).publicKey), 'signed by the agent CA');
  t.match(await l.logs.waitFor((x) => x['msg'] === 'agent enrolled'), { level: 30, nodeName: 'edge-a' });

  const socket = await tlsTo(l.port, [AgentAlpn.SESSION], { certPem: body['certificate']!, keyPem: pki.key.privateKeyPem });
  t.equal(socket.alpnProtocol, AgentAlpn.SESSION);
  const session = new Session(socket, { role: 'client', hello: { nodeName: 'edge-a', nodeIps: ['127.0.20.1'], version: 1, agentVersion: 't' } });
  session.on('close', () => undefined);
  t.teardown(() => session.destroy());
  await session.ready;
  await waitFor(() => l.registry.get('edge-a') !== undefined, 3000, 'edge-a attached');
});

t.test('refusals answer with a status, a code and a reason, and log one warn line', async (t) => {
  const l = await startListener(t, { enroller: fakeEnroller(pki), enrollRateLimit: { max: 100, windowMs: 60_000 } });
  const cases: Array<[string, Parameters<typeof post>[1], number, string, RegExp]> = [
    ['bad token', { token: 'wrong', body: { nodeName: 'edge-a', csr: csrFor('edge-a') } }, 401, 'BAD_TOKEN', /bootstrap token is not valid/],
    ['no token', { body: { nodeName: 'edge-a', csr: csrFor('edge-a') } }, 401, 'BAD_TOKEN', /Authorization: Bearer/],
    ['unknown node', { token: TOKEN, body: { nodeName: 'edge-zz', csr: csrFor('edge-zz') } }, 404, 'UNKNOWN_NODE', /node edge-zz does not exist/],
    [
      'bad CSR',
      { token: TOKEN, body: { nodeName: 'edge-a', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' } },
      400,
      'BAD_CSR',
      /signing request was refused/,
    ],
    ['no CSR', { token: TOKEN, body: { nodeName: 'edge-a' } }, 400, 'BAD_CSR', /csr is missing/],
    ['bad JSON', { token: TOKEN, body: '{"nodeName": ' }, 400, 'BAD_REQUEST', /not JSON/],
    ['no node name', { token: TOKEN, body: { csr: 'x' } }, 400, 'BAD_REQUEST', /nodeName is missing/],
    ['too large', { token: TOKEN, body: { nodeName: 'edge-a', csr: 'x'.repeat(ENROLL_MAX_BODY_BYTES) } }, 413, 'TOO_LARGE', /larger than 65536 bytes/],
    ['other path', { token: TOKEN, path: '/v1/other' }, 404, 'NOT_FOUND', /POST \/v1\/enroll/],
    ['other method', { token: TOKEN, method: 'GET' }, 405, 'METHOD_NOT_ALLOWED', /not GET/],
  ];
  for (const [what, req, status, code, reason] of cases) {
    const before = l.logs.lines.length;
    const answer = await post(l.port, req);
    t.equal(answer.status, status, `${what}: status`);
    t.match(answer.body, { code, reason }, `${what}: body`);
    const line = await l.logs.waitFor((x) => l.logs.lines.indexOf(x) >= before && x['msg'] === 'enrollment refused');
    t.match(line, { level: 40, code, reason }, `${what}: warn line`);
    const sent = req?.body as { nodeName?: string } | string | undefined;
    if (typeof sent === 'object' && sent.nodeName !== undefined && code !== 'TOO_LARGE') t.equal(line['nodeName'], sent.nodeName, `${what}: nodeName logged`);
  }
});

t.test('binding refusals (issue 13) map to their status and X-Tunnel-Error; a presented certificate reaches the enroller', async (t) => {
  const seen: Array<{ token: string; current?: { commonName: string; serial: string } }> = [];
  const codes: Record<string, string> = {
    'edge-cloud': 'ERR_KUBE_ENROLL_NOT_EDGE_NODE',
    'edge-old': 'ERR_KUBE_ENROLL_TOKEN_EXPIRED',
    'edge-other': 'ERR_KUBE_ENROLL_TOKEN_NOT_FOR_NODE',
    'edge-many': 'ERR_KUBE_ENROLL_TOKEN_USED_UP',
    'edge-b': 'ERR_KUBE_ENROLL_ALREADY_ENROLLED',
  };
  const enroller: Enroller = {
    async enroll(req) {
      seen.push({ token: req.token, ...(req.current ? { current: { commonName: req.current.commonName, serial: req.current.serial } } : {}) });
      if (codes[req.nodeName] && !req.current) throw kubeError(codes[req.nodeName]!, `refused ${req.nodeName}`);
      return signCsr(pki.agentCa, req.csrPem, { nodeName: req.nodeName, ips: [], validityDays: 1 });
    },
  };
  const l = await startListener(t, { enroller, enrollRateLimit: { max: 100, windowMs: 60_000 } });
  for (const [node, status, code] of [
    ['edge-cloud', 403, 'NOT_EDGE_NODE'],
    ['edge-old', 401, 'TOKEN_EXPIRED'],
    ['edge-other', 403, 'TOKEN_NOT_FOR_NODE'],
    ['edge-many', 403, 'TOKEN_USED_UP'],
    ['edge-b', 409, 'ALREADY_ENROLLED'],
  ] as const) {
    const answer = await post(l.port, { token: TOKEN, body: { nodeName: node, csr: csrFor(node) } });
    t.equal(answer.status, status, `${code}: status`);
    t.equal(answer.headers?.['x-tunnel-error'], code, `${code}: X-Tunnel-Error`);
    t.match(answer.body, { code, reason: `refused ${node}` });
  }
  const first = await post(l.port, { token: TOKEN, body: { nodeName: 'edge-c', csr: csrFor('edge-c') } });
  const renewal = await post(l.port, {
    body: { nodeName: 'edge-b', csr: csrFor('edge-b') },
    cert: { certPem: first.body['certificate']!, keyPem: pki.key.privateKeyPem },
  });
  t.equal(renewal.status, 200, 'no token needed with a verified current certificate');
  t.match(
    seen.at(-1),
    { token: '', current: { commonName: 'edge-c', serial: new X509Certificate(first.body['certificate']!).serialNumber } },
    'the enroller sees the presented certificate (its CN decides)',
  );
  const { issueAgentCert } = await import('@edge-tunnel/pki');
  const foreignCert = await issueAgentCert(pki.foreignCa, 'edge-c', [], { key: pki.key });
  const foreign = await post(l.port, { body: { nodeName: 'edge-b', csr: csrFor('edge-b') }, cert: foreignCert });
  t.equal(foreign.status, 401, 'a certificate the agent CA does not verify is no renewal: the token is needed');
});

t.test('an enroller failure without a known code is a 500 that keeps its details in the log', async (t) => {
  const l = await startListener(t, { enroller: fakeEnroller(pki) });
  const answer = await post(l.port, { token: TOKEN, body: { nodeName: 'explode', csr: csrFor('explode') } });
  t.equal(answer.status, 500);
  t.equal(answer.body['code'], 'INTERNAL');
  t.notMatch(answer.body['reason'], /secret internals/, 'no internals to an unauthenticated client');
  t.match(await l.logs.waitFor((x) => x['msg'] === 'enrollment failed'), { level: 50, nodeName: 'explode', reason: /secret internals/ });
});

t.test('without an enroller every request answers 503', async (t) => {
  const l = await startListener(t);
  const answer = await post(l.port, { token: TOKEN, body: { nodeName: 'edge-a', csr: csrFor('edge-a') } });
  t.equal(answer.status, 503);
  t.same(answer.body, { code: 'NOT_ENABLED', reason: 'enrollment is not enabled on this server' });
});

t.test('sessions still need a client certificate, with or without ALPN', async (t) => {
  const l = await startListener(t, { enroller: fakeEnroller(pki) });
  for (const alpn of [[AgentAlpn.SESSION], undefined]) {
    const before = l.logs.lines.length;
    const socket = await tlsTo(l.port, alpn);
    t.equal(socket.alpnProtocol, alpn ? AgentAlpn.SESSION : false);
    socket.on('error', () => undefined).resume();
    await once(socket, 'close');
    const line = await l.logs.waitFor((x) => l.logs.lines.indexOf(x) >= before && x['msg'] === 'agent rejected: certificate');
    t.match(line, { code: 'NO_CLIENT_CERT', reason: /no client certificate/ }, `ALPN ${String(alpn)}`);
  }
});

t.test('more than 10 requests a minute from one address get 429', async (t) => {
  const enroller = fakeEnroller(pki);
  const l = await startListener(t, { enroller });
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await post(l.port, { token: 'wrong', body: { nodeName: 'edge-a', csr: 'x' } })).status);
  t.same(statuses, [...Array<number>(10).fill(401), 429, 429]);
  t.equal(enroller.calls, 10, 'the enroller is not asked once the limit is hit');
  const answer = await post(l.port, { token: TOKEN, body: { nodeName: 'edge-a', csr: csrFor('edge-a') } });
  t.match(answer, { status: 429, body: { code: 'RATE_LIMITED', reason: /more than 10 enrollment requests from 127\.0\.0\.1/ } });

  const small = await startListener(t, { enroller, enrollRateLimit: { max: 1, windowMs: 2000 } });
  const good = { token: TOKEN, body: { nodeName: 'edge-a', csr: csrFor('edge-a') } };
  const windowStart = performance.now();
  t.equal((await post(small.port, good)).status, 200);
  const second = await post(small.port, good);
  if (performance.now() - windowStart < 2000) t.equal(second.status, 429, 'second request in the window');
  await sleep(Math.max(0, 2100 - (performance.now() - windowStart)));
  t.equal((await post(small.port, good)).status, 200, 'a new window');
});

t.test('a connection that sends no request head is closed after the headers timeout', async (t) => {
  const logs = new LogCapture();
  const handler = createEnrollHandler({ enroller: fakeEnroller(pki), log: pino({ level: 'debug' }, logs.stream), headersTimeoutMs: 200 });
  const server = createTlsServer({ cert: pki.server.certPem, key: pki.server.keyPem, ALPNProtocols: [AgentAlpn.ENROLL] }, (s) => handler.handle(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const started = performance.now();
  const socket = await tlsTo((server.address() as AddressInfo).port, [AgentAlpn.ENROLL]);
  socket.write('POST /v1/enroll HTTP/1.1\r\nHost: x\r\n'); // never finished
  socket.on('error', () => undefined).resume();
  await once(socket, 'close');
  const took = performance.now() - started;
  t.ok(took >= 150 && took < 5000, `closed after ${Math.round(took)} ms (timeout 200)`);
  t.match(await logs.waitFor((x) => x['msg'] === 'enrollment refused'), { code: 'TIMEOUT', reason: /no request head within 200 ms/ });
});
