// Error bodies on the unauthenticated listeners (:10264, CONNECT) name only what the caller sent:
// not the node name behind an IP, not other nodes, not the agent's refusal text (it lists the node's
// allowed ports and names the node). The operator's sentence is on the audit line (`detail`), and an
// authenticated :10263 caller still gets it in the body.
import { connect } from 'node:net';
import t from 'tap';
import { connectAgent, send, startNode, startServer, waitFor } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const server = await startServer(t, pki, ['--connect-addr', '127.0.0.1:0']);
const AGENT_REASON = 'is not allowed by edge-tunnel-agent on edge-a: port not allowed (allowed: 127.0.20.61 ports 9100,9180)';
// edge-a's agent refuses every target with a reason as the real agent words it
await startNode(t, pki, server, 'edge-a', '127.0.20.61', { refuse: (m) => `${m.host}:${m.port} ${AGENT_REASON}` });
await startNode(t, pki, server, 'edge-b', '127.0.20.62');
// edge-c was attached once and its agent is gone: the node is known, without a tunnel
const gone = await connectAgent(t, pki, server, 'edge-c', ['127.0.20.63']);
await waitFor(() => server.handle.registry.get('edge-c') !== undefined, 2000, 'edge-c attached');
await gone.close();
await waitFor(() => server.handle.registry.get('edge-c')?.session.destroyed !== false, 2000, 'edge-c detached');

const SECRETS = [/edge-[abc]/, /127\.0\.20\.6[1-3]/, /9180/, /allowed/];

/** One raw request on `port`; everything the server sent until it closed. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let body = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      body += d;
    });
    s.on('error', () => {});
    s.on('close', () => resolve(body));
    s.write(text);
  });
}

const cases = [
  { what: 'an unknown node', dest: 'edge-zzz:10255', reason: 'NODE_UNKNOWN', status: 502 },
  { what: 'an unknown IP', dest: '127.0.20.69:10255', reason: 'NODE_UNKNOWN', status: 502 },
  { what: "a known node's IP without a tunnel", dest: '127.0.20.63:10255', reason: 'NO_TUNNEL', status: 503 },
  { what: 'a target the agent refuses', dest: '127.0.20.61:10255', reason: 'REFUSED', status: 403 },
];

for (const c of cases) {
  for (const listener of ['http', 'connect'] as const) {
    t.test(`${listener}: ${c.what} (${c.dest}): the body names only what was sent`, async (t) => {
      const port = listener === 'http' ? server.addr.http.port : server.handle.addresses.connect!.port;
      const request =
        listener === 'http' ? `GET /pods HTTP/1.1\r\nHost: ${c.dest}\r\nConnection: close\r\n\r\n` : `CONNECT ${c.dest} HTTP/1.1\r\nHost: ${c.dest}\r\n\r\n`;
      const before = server.logs.lines.length;
      const answer = await raw(port, request);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      t.match(head, new RegExp(`^HTTP/1\\.1 ${c.status} `), `status ${c.status}`);
      t.match(head, new RegExp(`X-Tunnel-Error: ${c.reason}`, 'i'), `X-Tunnel-Error ${c.reason}`);
      t.ok(body.startsWith(`edge-tunnel: ${c.reason}: `), body.trim());
      t.ok(body.includes(c.dest.split(':')[0]!), 'the body names the host the caller sent');
      const sentHost = c.dest.split(':')[0]!;
      for (const secret of SECRETS) {
        t.notMatch(body.replaceAll(sentHost, '<sent>'), secret, `nothing the caller did not send: ${secret}`);
      }
      const audit = await server.logs.waitFor((l) => l['msg'] === 'audit' && server.logs.lines.indexOf(l) >= before && l['reason'] === c.reason);
      if (c.reason !== 'NODE_UNKNOWN') {
        t.match(audit['detail'], /edge node edge-[ac]/, "the audit line has the operator's sentence");
        t.ok(body.includes(String(audit['traceId'])), 'the body names the trace id of that audit line');
      }
    });
  }
}

t.test("https with a caller certificate: the body keeps the operator's sentence", async (t) => {
  const r = await send(server.addr.https, {
    path: '/pods',
    headers: { host: '127.0.20.61:10250' },
    tls: { cert: pki.caller.certPem, key: pki.caller.keyPem, ca: pki.agentCa.certPem },
  });
  t.equal(r.status, 403);
  t.equal(r.headers['x-tunnel-error'], 'REFUSED');
  t.match(r.body, /edge node edge-a \(127\.0\.20\.61:10250\): the agent answered REFUSED: .*allowed:/, r.body.trim());
});

t.test('https without a certificate (--require-caller-cert=false): the body names only what was sent', async (t) => {
  const open = await startServer(t, pki, ['--require-caller-cert=false']);
  await startNode(t, pki, open, 'edge-a', '127.0.20.61', { refuse: (m) => `${m.host}:${m.port} ${AGENT_REASON}` });
  const r = await send(open.addr.https, { path: '/pods', headers: { host: '127.0.20.61:10250' }, tls: { ca: pki.agentCa.certPem } });
  t.equal(r.status, 403);
  t.equal(r.headers['x-tunnel-error'], 'REFUSED');
  t.match(r.body, /^edge-tunnel: REFUSED: 127\.0\.20\.61:10250: the edge node's agent refused the target \(trace /, r.body.trim());
  t.notMatch(r.body, /edge-a|allowed/);
});
