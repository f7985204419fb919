// Scale-out: the hello names the replica set (--advertise-addr, --peer-addr), changes reach agents
// as JSON lines on the 'replicas' control stream, and /readyz waits for expected agents (with a
// grace period) and turns 503 at once when draining starts.
import t from 'tap';
import { connect as tlsConnect } from 'node:tls';
import { Session, type Stream } from '@edge-tunnel/framing';
import { parseConfig } from '../src/config.js';
import { ServerErrorCode } from '../src/errors.js';
import { connectAgent, meta, sleep, startServer, waitFor } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();

/** An agent session that keeps the lines of the control stream. */
async function controlClient(
  t: { teardown(fn: () => unknown): void },
  port: number,
  nodeName: string,
  ip: string,
): Promise<{ session: Session; lines: string[] }> {
  const cert = await pki.agent(nodeName, [ip]);
  const socket = tlsConnect({ host: '127.0.0.1', port, cert: cert.certPem, key: cert.keyPem, ca: pki.agentCa.certPem, servername: 'localhost' });
  socket.on('error', () => {});
  const session = new Session(socket, { role: 'client', hello: { nodeName, nodeIps: [ip], version: 1, agentVersion: 'test' } });
  const lines: string[] = [];
  session.on('close', () => {});
  session.on('stream', (stream: Stream) => {
    stream.on('error', () => {});
    if (stream.meta.kind !== 'replicas') return stream.refuse('REFUSED', 'not a control stream');
    stream.accept();
    stream.end();
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      buf += c;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
  });
  await session.ready;
  t.teardown(() => session.destroy());
  return { session, lines };
}

t.test('flags: --advertise-addr must be dialable, --peer-addr takes ids', async (t) => {
  const base = ['--cert', 'c', '--key', 'k', '--agent-ca', 'a', '--require-caller-cert=false'];
  t.throws(
    () => parseConfig([...base, '--peer-addr', '10.0.0.2:10262']),
    { code: ServerErrorCode.INVALID_CONFIG },
    'a wildcard listener needs --advertise-addr',
  );
  const parsed = parseConfig([
    ...base,
    '--advertise-addr',
    '10.0.0.1:10262',
    '--peer-addr',
    'r1=10.0.0.1:10262',
    '--peer-addr',
    '10.0.0.2:10262',
    '--expected-nodes',
    'edge-a,edge-b',
  ]);
  if (parsed.help) throw new Error('help');
  t.same(parsed.config.peerAddrs, [
    { id: 'r1', addr: '10.0.0.1:10262' },
    { id: '10.0.0.2:10262', addr: '10.0.0.2:10262' },
  ]);
  t.same(parsed.config.expectedNodes, ['edge-a', 'edge-b']);
  t.equal(parsed.config.readyGraceMs, 30_000);
  t.throws(() => parseConfig([...base, '--advertise-addr', ':10262']), { code: ServerErrorCode.INVALID_CONFIG });
  t.throws(() => parseConfig([...base, '--advertise-addr', '10.0.0.1:10262', '--peer-addr', 'nope']), { code: ServerErrorCode.INVALID_CONFIG });
});

t.test('the hello lists the replicas; changes arrive on the control stream', async (t) => {
  const server = await startServer(t, pki, ['--server-id', 'r1', '--peer-addr', 'r2=127.0.0.1:1', '--peer-addr', 'r3=127.0.0.1:2']);
  const self = `127.0.0.1:${server.addr.agent.port}`;
  const { session, lines } = await controlClient(t, server.addr.agent.port, 'edge-a', '127.0.0.11');
  const hello = session.peerHello as { serverId: string; replicas: Array<{ id: string; addr: string }> };
  t.equal(hello.serverId, 'r1');
  t.same(hello.replicas.map((r) => r.id).sort(), ['r1', 'r2', 'r3']);
  t.equal(hello.replicas.find((r) => r.id === 'r1')!.addr, self, 'advertised: the bound agent listener');
  await waitFor(() => lines.length === 1, 2000, 'first control line');
  server.handle.replicas.set([{ id: 'r2', addr: '127.0.0.1:1' }]);
  await waitFor(() => lines.length === 2, 2000, 'change line');
  t.same((JSON.parse(lines[1]!) as { replicas: Array<{ id: string }> }).replicas.map((r) => r.id).sort(), ['r1', 'r2']);
  t.match((await meta(server, '/debug/replicas')).json(), { self: { id: 'r1', addr: self } });
});

t.test('/readyz waits for the expected agents, then the grace period no longer matters', async (t) => {
  const server = await startServer(t, pki, ['--expected-nodes', 'edge-a,edge-b', '--ready-grace-ms', '60000']);
  const first = await meta(server, '/readyz');
  t.equal(first.status, 503);
  t.match(first.body, /waiting for agents edge-a, edge-b/);
  await connectAgent(t, pki, server, 'edge-a', ['127.0.0.12']);
  await waitFor(() => server.handle.registry.get('edge-a') !== undefined, 2000, 'edge-a');
  t.equal((await meta(server, '/readyz')).status, 503, 'one agent is not enough');
  await connectAgent(t, pki, server, 'edge-b', ['127.0.0.13']);
  await waitFor(() => server.handle.registry.get('edge-b') !== undefined, 2000, 'edge-b');
  t.equal((await meta(server, '/readyz')).status, 200);
});

t.test('/readyz turns ready when the grace period ends without the agents', async (t) => {
  const server = await startServer(t, pki, ['--expected-nodes', 'edge-z', '--ready-grace-ms', '300']);
  t.equal((await meta(server, '/readyz')).status, 503);
  await sleep(350);
  t.equal((await meta(server, '/readyz')).status, 200);
});

t.test('draining: /readyz 503 at once while proxies still serve during --shutdown-delay-ms', async (t) => {
  const server = await startServer(t, pki, ['--shutdown-delay-ms', '400', '--peer-addr', 'r2=127.0.0.1:1']);
  const { lines, session } = await controlClient(t, server.addr.agent.port, 'edge-c', '127.0.0.14');
  await waitFor(() => lines.length === 1, 2000, 'control line');
  const closed = server.handle.close();
  const during = await meta(server, '/readyz');
  t.equal(during.status, 503);
  t.match(during.body, /draining/);
  t.notOk(session.destroyed, 'the session is still up during the delay');
  const started = Date.now();
  await closed;
  t.ok(Date.now() - started < 1500, 'the control stream does not hold the drain to its deadline');
});

t.test('a lone replica opens no control stream; one appears when a second replica does', async (t) => {
  const server = await startServer(t, pki, ['--server-id', 'r1']);
  const agent = await connectAgent(t, pki, server, 'edge-d', ['127.0.0.15']);
  t.equal((agent.session.peerHello as { replicas: unknown[] }).replicas.length, 1, 'the hello lists this replica');
  await sleep(100);
  t.same(agent.opens, [], 'no stream was opened');
  // the server's side of the session: one 'close' listener (the agent listener's), and a 'goaway'
  // one only while a control stream is open (an idle session holds no listener it does not need)
  const served = () => server.handle.registry.get('edge-d')!.session;
  t.equal(served().listenerCount('close'), 1, "one 'close' listener on the server's session");
  t.equal(served().listenerCount('goaway'), 0, "no 'goaway' listener without a control stream");
  server.handle.replicas.set([{ id: 'r2', addr: '127.0.0.1:1' }]);
  t.equal(served().listenerCount('goaway'), 1, "with the control stream, a 'goaway' listener to end it when the agent leaves");
  await waitFor(() => agent.opens.length === 1, 2000, 'control stream');
  t.match(agent.opens[0], { host: 'edge-tunnel', port: 0, kind: 'replicas' });
});
