// The agent port's TLS: no session tickets (SSL_OP_NO_TICKET), so no TLS session is ever resumed and
// every connection presents its certificate again (OpenSSL keeps less per idle connection without
// them); ALPN picked by the server's preference, a client offering only foreign protocols refused.
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { testPki } from './fixtures/pki.js';
import { startServer } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';

const pki = await testPki();
t.setTimeout(30_000);

/** A TLS connection with an agent certificate; resolves 200 ms after the handshake with the last session the server handed out (TLS 1.3 sends them after the handshake). */
function handshake(
  server: TestServer,
  cert: { certPem: string; keyPem: string },
  session?: Buffer,
): Promise<{ socket: TLSSocket; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: server.addr.agent.host,
      port: server.addr.agent.port,
      ca: pki.agentCa.certPem,
      servername: 'localhost',
      cert: cert.certPem,
      key: cert.keyPem,
      ALPNProtocols: ['edge-tunnel/1'],
      ...(session ? { session } : {}),
    });
    let last: Buffer | undefined;
    socket.on('session', (s: Buffer) => (last = s));
    socket.once('error', reject);
    socket.once('secureConnect', () => setTimeout(() => resolve({ socket, session: last ?? socket.getSession() }), 200));
  });
}

t.test('the agent port resumes no TLS session: every connection is a full handshake', async (t) => {
  const server = await startServer(t, pki);
  const cert = await pki.agent('edge-a', ['127.0.20.1']);
  const first = await handshake(server, cert);
  t.teardown(() => first.socket.destroy());
  t.ok(first.session, 'the client holds a session to offer');
  const second = await handshake(server, cert, first.session);
  t.teardown(() => second.socket.destroy());
  t.notOk(second.socket.isSessionReused(), 'offering the first session does not resume it');
  t.ok(second.socket.authorized, 'the second connection verified the server again');
});

t.test('--resume-grace-ms 0: a resuming agent gets the plain session protocol (as from an older server)', async (t) => {
  const server = await startServer(t, pki, ['--resume-grace-ms', '0']);
  const cert = await pki.agent('edge-a', ['127.0.20.1']);
  const picked = await new Promise<string | false | Error>((resolve) => {
    const socket = tlsConnect({
      host: server.addr.agent.host,
      port: server.addr.agent.port,
      ca: pki.agentCa.certPem,
      servername: 'localhost',
      cert: cert.certPem,
      key: cert.keyPem,
      ALPNProtocols: ['edge-tunnel-resume/1', 'edge-tunnel/1'],
    });
    socket.once('error', (err) => resolve(err));
    socket.once('secureConnect', () => (resolve(socket.alpnProtocol ?? false), socket.destroy()));
  });
  t.equal(picked, 'edge-tunnel/1', 'resumption off: the plain session');
});

t.test('ALPN: the session protocol is preferred, enrollment picked alone, foreign protocols refused in the handshake', async (t) => {
  const server = await startServer(t, pki);
  const cert = await pki.agent('edge-a', ['127.0.20.1']);
  const negotiated = (ALPNProtocols: string[]): Promise<string | false | Error> =>
    new Promise((resolve) => {
      const socket = tlsConnect({
        host: server.addr.agent.host,
        port: server.addr.agent.port,
        ca: pki.agentCa.certPem,
        servername: 'localhost',
        cert: cert.certPem,
        key: cert.keyPem,
        ALPNProtocols,
      });
      socket.once('error', (err) => resolve(err));
      socket.once('secureConnect', () => (resolve(socket.alpnProtocol ?? false), socket.destroy()));
    });
  t.equal(await negotiated(['edge-tunnel-enroll/1', 'edge-tunnel/1']), 'edge-tunnel/1', 'both offered: the session');
  t.equal(await negotiated(['edge-tunnel-enroll/1']), 'edge-tunnel-enroll/1', 'enrollment alone');
  t.equal(
    await negotiated(['edge-tunnel-resume/1', 'edge-tunnel/1']),
    'edge-tunnel-resume/1',
    'a resuming agent: the resumable session (--resume-grace-ms > 0)',
  );
  const refused = await negotiated(['h2', 'http/1.1']);
  t.match(refused, { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' }, 'no common protocol: a fatal alert');
  const line = await server.logs.waitFor((l) => l['msg'] === 'agent rejected: no common ALPN protocol');
  t.match(
    line,
    { level: 40, reason: 'the client offered ALPN h2, http/1.1; this port speaks edge-tunnel-resume/1, edge-tunnel/1, edge-tunnel-enroll/1' },
    'a warn line naming both sides',
  );
});
