// Enrollment end to end: the real agent start() against an in-test server with the agent port's ALPN
// protocols (fixtures/enroll-server.ts). First enrollment, restart, renewal under a live stream, a bad
// token, a server that does not offer enrollment, and the new flags.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stream } from '@edge-tunnel/framing';
import { certIdentity } from '@edge-tunnel/pki';
import t from 'tap';
import type { AgentConfig } from '../src/config.js';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { start, type AgentHandle } from '../src/start.js';
import { agentConfig, captureLogger, httpGet, waitFor, type LogLine } from './fixtures/agent.js';
import { EnrollServer } from './fixtures/enroll-server.js';
import { target } from './fixtures/harness.js';
import { NODE_IP, NODE_NAME, testPki } from './fixtures/pki.js';
import { FakeServer } from './fixtures/server.js';

t.setTimeout(120_000);
const pki = await testPki();
/** signCsr backdates notBefore by 5 min; this makes notAfter = now + 3 s */
const THREE_SECONDS = (300 + 3) / 86_400;

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function enrolling(
  t: Teardown,
  token: string,
  over: Partial<AgentConfig> = {},
  server?: EnrollServer,
): Promise<{ server: EnrollServer; agent: AgentHandle; lines: LogLine[]; config: AgentConfig }> {
  const srv = server ?? (await EnrollServer.create(pki));
  const port = server ? (srv.server.address() as { port: number }).port : await srv.listen();
  const dir = await mkdtemp(join(tmpdir(), 'edge-agent-enroll-'));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${token}\n`);
  const config = agentConfig(pki, port, { certFile: undefined, keyFile: undefined, bootstrapTokenFile: tokenFile, certDir: join(dir, 'certs'), ...over });
  const { logger, lines } = captureLogger();
  const agent = await start(config, logger);
  t.teardown(async () => {
    await agent.close();
    if (!server) await srv.close();
  });
  return { server: srv, agent, lines, config };
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** Writes `text` on the server side of an echo stream and waits for it to come back. */
async function roundTrip(stream: Stream, text: string): Promise<string> {
  const back = new Promise<string>((resolve) => stream.once('data', (b: Buffer) => resolve(String(b))));
  stream.write(text);
  return back;
}

t.test('first enrollment writes the files, then the session uses the new certificate; a restart reuses them', async (t) => {
  const { server, agent, lines, config } = await enrolling(t, 'good-token');
  const session = await server.nextSession();
  t.ok(session, 'session up');
  const certDir = config.certDir!;
  const certPem = await readFile(join(certDir, 'agent.crt'), 'utf8');
  const id = certIdentity(certPem);
  t.equal(id.commonName, NODE_NAME);
  t.same(id.ips, [NODE_IP]);
  t.equal((await stat(join(certDir, 'agent.key'))).mode & 0o777, 0o600, 'key file is 0600');
  t.equal(await readFile(join(certDir, 'ca.crt'), 'utf8'), server.agentCa.certPem, 'ca.crt is the CA that signed us');
  t.same(server.sessionFingerprints, [fingerprint(certPem)], 'the session presented the enrolled certificate');
  t.equal(server.issued.length, 1);
  t.ok(lines.some((l) => l.msg === 'certificate enrolled'));
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.equal((await httpGet(agent.metaAddress.port, '/readyz')).status, 200);
  await agent.close();

  const { logger, lines: again } = captureLogger();
  const second = await start(config, logger);
  t.teardown(() => second.close());
  await server.nextSession();
  t.equal(server.issued.length, 1, 'no second enrollment');
  t.match(
    again.find((l) => l.msg === 'using certificate'),
    { certFile: join(certDir, 'agent.crt') },
  );
  t.equal(server.sessionFingerprints.at(-1), fingerprint(certPem));
});

t.test('renewal writes new files while an open stream keeps flowing; the next dial uses them', async (t) => {
  const echo = await target(t, (s) => s.pipe(s));
  const server = await EnrollServer.create(pki);
  await server.listen();
  t.teardown(() => server.close());
  server.validity = [THREE_SECONDS]; // the first certificate lives 3 s, the renewed one a day
  const { agent, lines, config } = await enrolling(t, 'good-token', { renewBefore: 0.005, allowPorts: [{ lo: echo.port, hi: echo.port }] }, server);
  const session = await server.nextSession();
  const first = await readFile(join(config.certDir!, 'agent.crt'), 'utf8');
  const firstExpiry = certIdentity(first).notAfter.getTime();
  t.ok(firstExpiry - Date.now() < 3500, 'first certificate is short-lived');
  const stream = session.open({ host: NODE_IP, port: echo.port, kind: 'http', traceId: 'renew' });
  t.equal(await roundTrip(stream, 'before'), 'before');

  await waitFor(() => server.issued.length >= 2, 15_000, 'renewal');
  await waitFor(() => lines.some((l) => l.msg === 'certificate renewed'), 5000, 'renewal logged');
  const renewed = await readFile(join(config.certDir!, 'agent.crt'), 'utf8');
  t.equal(fingerprint(renewed), server.issued[1], 'agent.crt is the renewed certificate');
  t.not(fingerprint(renewed), fingerprint(first));
  t.equal((await stat(join(config.certDir!, 'agent.key'))).mode & 0o777, 0o600);

  await waitFor(() => Date.now() > firstExpiry + 200, 5000, 'first certificate expired');
  t.equal(await roundTrip(stream, 'after'), 'after', 'the stream outlives the certificate it was opened under');
  t.equal(server.sessionFingerprints.length, 1, 'no reconnect was forced');
  t.ok(agent.status().connected);

  const next = server.nextSession();
  stream.on('error', () => undefined);
  session.destroy();
  await next;
  t.same(server.sessionFingerprints, [server.issued[0], server.issued[1]], 'the next dial presents the renewed certificate');
});

t.test('a bad token logs the server reason, /readyz says enrolling, and the agent retries until it works', async (t) => {
  const { server, agent, lines, config } = await enrolling(t, 'bad-token');
  await waitFor(() => lines.filter((l) => l.msg === 'enrollment failed').length >= 2, 10_000, 'two failed attempts');
  const line = lines.find((l) => l.msg === 'enrollment failed')!;
  t.match(line, {
    level: 50,
    code: 'BAD_TOKEN',
    status: 401,
    reason: 'server refused enrollment (401 BAD_TOKEN): the bootstrap token is not valid: it matches no token key',
  });
  const ready = await httpGet(agent.metaAddress.port, '/readyz');
  t.equal(ready.status, 503);
  t.match(ready.body, /^not ready: enrolling: server refused enrollment \(401 BAD_TOKEN\): the bootstrap token is not valid/);
  t.equal(server.sessionFingerprints.length, 0, 'no session without a certificate');

  await writeFile(config.bootstrapTokenFile!, 'good-token');
  await server.nextSession();
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.equal(server.issued.length, 1, 'the fixed token file is read on the next attempt');
});

t.test('a server that does not offer enrollment is named as such', async (t) => {
  const server = new FakeServer(pki); // no ALPN, client certificate required
  const port = await server.listen();
  t.teardown(() => server.close());
  const dir = await mkdtemp(join(tmpdir(), 'edge-agent-enroll-'));
  await writeFile(join(dir, 'token'), 'x');
  const { logger, lines } = captureLogger();
  const agent = await start(agentConfig(pki, port, { certFile: undefined, keyFile: undefined, bootstrapTokenFile: join(dir, 'token'), certDir: dir }), logger);
  t.teardown(() => agent.close());
  const line = await waitFor(() => lines.find((l) => l.msg === 'enrollment failed'), 10_000, 'failure');
  t.match(line, { reason: /does not offer enrollment \(ALPN edge-tunnel-enroll\/1 not negotiated\)|TLS handshake .* failed/ });
});

t.test('flags: --bootstrap-token-file makes --cert/--key optional; --cert-dir and --renew-before', async (t) => {
  const base = ['--server', 's:1', '--node-name', 'edge-1', '--node-ip', '10.0.0.5', '--ca', '/ca'];
  const parsed = parseConfig([...base, '--bootstrap-token-file', '/t']);
  t.match(!parsed.help && parsed.config, { bootstrapTokenFile: '/t', certDir: '/var/lib/edge-tunnel', renewBefore: 0.33, certFile: undefined });
  const env = parseConfig(base, { EDGE_TUNNEL_BOOTSTRAP_TOKEN_FILE: '/e', EDGE_TUNNEL_CERT_DIR: '/d', EDGE_TUNNEL_RENEW_BEFORE: '0.5' });
  t.match(!env.help && env.config, { bootstrapTokenFile: '/e', certDir: '/d', renewBefore: 0.5 });
  const bad: Array<[string[], string]> = [
    [base, '--cert'],
    [[...base, '--cert', '/c'], '--key'],
    [[...base, '--bootstrap-token-file', '/t', '--key', '/k'], '--cert'],
    [[...base, '--bootstrap-token-file', '/t', '--renew-before', '1'], '--renew-before'],
    [[...base, '--bootstrap-token-file', '/t', '--renew-before', 'soon'], '--renew-before'],
  ];
  for (const [argv, flag] of bad) {
    const err = (() => {
      try {
        parseConfig(argv);
      } catch (e) {
        return e;
      }
    })();
    t.ok(err instanceof ConfigError && err.flag === flag, `${argv.slice(8).join(' ') || '(none)'} → ${flag}: ${String(err)}`);
  }
});
