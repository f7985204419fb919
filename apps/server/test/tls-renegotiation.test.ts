// Attack (issue 13): TLS 1.2 client-initiated renegotiation. Each renegotiation makes the server redo
// a full handshake (an RSA signature) for the price of a few client bytes, on a connection that
// already passed the ClientHello gate and the handshake slots: a CPU lever that no accept-path limit
// sees. The kubelet's Go server refuses it (tls.RenegotiateNever); so do the :10263 listener and
// the agent port now. Driven with the real `openssl s_client -tls1_2`, whose `R` line renegotiates.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { meta, sleep, startServer } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
const server = await startServer(t, pki);
const dir = await mkdtemp(join(tmpdir(), 'tls-reneg-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const agentCert = await pki.agent('edge-a', ['127.0.20.91']);
const files = {
  ca: join(dir, 'ca.crt'),
  callerCrt: join(dir, 'caller.crt'),
  agentCrt: join(dir, 'agent.crt'),
  key: join(dir, 'key.pem'),
};
await writeFile(files.ca, pki.agentCa.certPem);
await writeFile(files.callerCrt, pki.caller.certPem);
await writeFile(files.agentCrt, agentCert.certPem);
await writeFile(files.key, agentCert.keyPem); // one key for every test certificate (fixtures/pki.ts)

interface Outcome {
  output: string;
  exitedBeforeEnd: boolean;
}

/** Handshakes with TLS 1.2, waits, sends `R` (renegotiate), waits again; what s_client printed. */
function renegotiate(port: number, cert: string, extra: string[] = []): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(
      'openssl',
      [
        's_client',
        '-tls1_2',
        '-connect',
        `127.0.0.1:${port}`,
        '-CAfile',
        files.ca,
        '-cert',
        cert,
        '-key',
        files.key,
        ...extra, // no -ign_eof: it turns the R command off
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    let exited = false;
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('exit', () => {
      exited = true;
    });
    void (async () => {
      for (let i = 0; i < 50 && !output.includes('Verify return code'); i++) await sleep(20);
      child.stdin.write('R\n');
      for (let i = 0; i < 50 && !exited; i++) await sleep(20);
      const exitedBeforeEnd = exited;
      if (!exited) child.kill();
      await new Promise((r) => (exited ? r(undefined) : child.once('exit', r)));
      resolve({ output, exitedBeforeEnd });
    })();
  });
}

/** The warn line and the counter of the refusal on `listener`. */
async function refusalLogged(t: Test, listener: string): Promise<void> {
  const line = await server.logs.waitFor((l) => l['msg'] === 'tls renegotiation refused, connection closed' && l['listener'] === listener);
  t.equal(line['reason'], 'renegotiation', `warn line on ${listener} with its reason`);
  t.match(line['hint'], /renegotiate/, 'and a hint');
  const metrics = await meta(server, '/metrics');
  t.match(metrics.body, new RegExp(`edge_tunnel_tls_refusals_total\\{listener="${listener}",reason="renegotiation"\\} 1`), 'counted on /metrics');
}

t.test(':10263 refuses a renegotiation and closes the connection', async (t) => {
  const { output, exitedBeforeEnd } = await renegotiate(server.addr.https.port, files.callerCrt);
  t.comment(
    output
      .split('\n')
      .filter((l) => /^(RENEGOTIATING|verify return|.*:error:)/.test(l))
      .join(' | '),
  );
  t.match(output, /Verify return code: 0/, 'the first handshake succeeded');
  t.match(output, /RENEGOTIATING/, 's_client asked to renegotiate');
  t.notMatch(output.split('RENEGOTIATING')[1] ?? '', /verify return:1/, 'no second handshake took place');
  t.ok(exitedBeforeEnd, 'the server closed the connection');
  await refusalLogged(t, 'https');
});

t.test('the agent port refuses a renegotiation and closes the connection', async (t) => {
  const { output, exitedBeforeEnd } = await renegotiate(server.addr.agent.port, files.agentCrt, ['-alpn', 'edge-tunnel/1']);
  t.comment(
    output
      .split('\n')
      .filter((l) => /^(RENEGOTIATING|verify return|.*:error:)/.test(l))
      .join(' | '),
  );
  t.match(output, /Verify return code: 0/, 'the first handshake succeeded');
  t.match(output, /RENEGOTIATING/, 's_client asked to renegotiate');
  t.notMatch(output.split('RENEGOTIATING')[1] ?? '', /verify return:1/, 'no second handshake took place');
  t.ok(exitedBeforeEnd, 'the server closed the connection');
  await refusalLogged(t, 'agent');
});
