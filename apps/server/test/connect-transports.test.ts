// The CONNECT frontend's credentialed transports (src/connect-fronts.ts): a Unix socket
// (--connect-uds, as kube-apiserver's EgressSelector transport.uds.udsName dials it) and mTLS
// (--connect-require-cert: no certificate or a foreign one fails the handshake, a cluster-CA
// certificate outside --caller-allow gets 403, kube-apiserver's tunnels). Both count as authenticated
// for the stream quotas: with --unauthenticated-stream-share 0 they still tunnel while :10264 gets
// 429 STREAM_QUOTA.
import t from 'tap';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { issueCallerCert } from '@edge-tunnel/pki';
import { meta, send, startNode, startServer } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const IP = '127.0.232.1';
const dir = await mkdtemp(join(tmpdir(), 'edge-tunnel-uds-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const udsPath = join(dir, 'connect.sock');
const server = await startServer(t, pki, [
  '--connect-addr',
  '127.0.0.1:0',
  '--connect-require-cert',
  '--connect-uds',
  udsPath,
  '--unauthenticated-stream-share',
  '0',
]);
await startNode(t, pki, server, 'edge-u', IP);

/** CONNECT IP:10255 on `socket`, then GET /healthz through the tunnel: the CONNECT answer and the kubelet's. */
function tunnelHealthz(socket: Duplex): Promise<{ connect: string; inner: string; error?: string }> {
  return new Promise((resolve) => {
    let text = '';
    let connect: string | undefined;
    const done = (error?: string): void => resolve({ connect: connect ?? text, inner: connect === undefined ? '' : text, ...(error ? { error } : {}) });
    socket.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      if (connect === undefined && text.includes('\r\n\r\n')) {
        const end = text.indexOf('\r\n\r\n') + 4;
        connect = text.slice(0, end);
        text = text.slice(end);
        if (connect.startsWith('HTTP/1.1 200')) socket.write(`GET /healthz HTTP/1.1\r\nHost: ${IP}:10255\r\nConnection: close\r\n\r\n`);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    socket.on('close', () => done());
    socket.write(`CONNECT ${IP}:10255 HTTP/1.1\r\nHost: ${IP}:10255\r\n\r\n`);
  });
}

const mtls = (cert?: { certPem: string; keyPem: string }): ConnectionOptions => ({
  host: '127.0.0.1',
  port: server.addr.connect!.port,
  servername: 'localhost',
  ca: pki.agentCa.certPem,
  ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
});

t.test('--connect-uds: CONNECT over the Unix socket tunnels; the socket is mode 0660', async (t) => {
  t.equal(server.addr.connectUds, udsPath);
  t.equal((await stat(udsPath)).mode & 0o777, 0o660);
  const r = await tunnelHealthz(netConnect({ path: udsPath }));
  t.match(r.connect, /^HTTP\/1\.1 200 Connection established/);
  t.match(r.inner, /^HTTP\/1\.1 200 [^]*\r\n\r\nok$/, "the kubelet's /healthz through the tunnel");
  t.match(await server.logs.waitFor((l) => l['msg'] === 'audit' && l['listener'] === 'connect' && l['status'] === 200), { nodeName: 'edge-u' });
});

t.test('--connect-require-cert: no certificate → the handshake fails, nothing is tunnelled', async (t) => {
  const r = await tunnelHealthz(tlsConnect(mtls()));
  t.notMatch(r.connect, /HTTP\/1\.1 200/, 'no CONNECT answer');
  t.equal(r.inner, '');
  t.ok(
    await server.logs.waitFor((l) => l['msg'] !== undefined && String(l['msg']).startsWith('caller tls handshake failed') && l['listener'] === 'connect'),
    'warn line',
  );
});

t.test('--connect-require-cert: a certificate of a foreign CA → the handshake fails', async (t) => {
  const foreign = await issueCallerCert(pki.foreignCa, 'kube-apiserver-kubelet-client', { key: pki.key });
  const r = await tunnelHealthz(tlsConnect(mtls(foreign)));
  t.notMatch(r.connect, /HTTP\/1\.1 200/);
});

t.test('--connect-require-cert: a caller-CA certificate outside --caller-allow → 403 CALLER_NOT_ALLOWED', async (t) => {
  const other = await issueCallerCert(pki.clusterCa, 'someone-else', { key: pki.key });
  const r = await tunnelHealthz(tlsConnect(mtls(other)));
  t.match(r.connect, /^HTTP\/1\.1 403 [^]*X-Tunnel-Error: CALLER_NOT_ALLOWED\r\n/);
  t.match(r.inner, /matches no --caller-allow rule/, 'an authenticated caller reads the rule in the body');
  t.ok(
    server.logs.find((l) => String(l['msg']).startsWith('caller refused') && l['listener'] === 'connect'),
    'warn line names it',
  );
});

t.test("--connect-require-cert: kube-apiserver's certificate tunnels", async (t) => {
  const r = await tunnelHealthz(tlsConnect(mtls(pki.caller)));
  t.match(r.connect, /^HTTP\/1\.1 200 Connection established/);
  t.match(r.inner, /\r\n\r\nok$/);
});

t.test('both count as authenticated: with --unauthenticated-stream-share 0 only :10264 is refused (429 STREAM_QUOTA)', async (t) => {
  const plain = await send(server.addr.http, { path: '/healthz', headers: { host: `${IP}:10255` } });
  t.equal(plain.status, 429);
  t.equal(plain.headers['x-tunnel-error'], 'STREAM_QUOTA');
  t.equal(plain.headers['retry-after'], '1');
  t.notMatch(plain.body, /edge-u|--unauthenticated/, 'an unauthenticated caller is not told the limits');
  t.match(await server.logs.waitFor((l) => l['msg'] === 'stream refused: unauthenticated stream quota'), {
    listener: 'http',
    flag: '--unauthenticated-stream-share',
  });
  t.match((await meta(server, '/metrics')).body, /edge_tunnel_stream_refusals_total\{listener="http",quota="unauthenticated"\} 1\b/);
  t.match((await tunnelHealthz(netConnect({ path: udsPath }))).inner, /ok$/, 'the Unix socket still tunnels');
  t.match((await tunnelHealthz(tlsConnect(mtls(pki.caller)))).inner, /ok$/, 'mTLS CONNECT still tunnels');
});
