// Attack 2, the session half: "newest session wins" let any holder of a certificate for edge-b
// (an older one, stolen, or issued before edge-b was re-enrolled) replace edge-b's live session.
// Now a new session replaces a live one only with a certificate issued at or after the live one's:
// the older certificate's agent is refused (GOAWAY REFUSED, a warn line with code OLDER_CERTIFICATE)
// and the live session stays; the real agent reconnecting with its own certificate still replaces
// its half-dead session, and a newer certificate does too. Before the fix (main's listener): 4 of 8
// checks failed — the older certificate's session replaced the live one (newest session won).
import { issueAgentCert, issueCertificate, writePemFiles } from '@edge-tunnel/pki';
import t from 'tap';
import { eventually, httpGet, namedHttp, nodeObject, spawnApp, startCluster, writePki } from './fixtures/h3.js';
import { sessionOf } from './fixtures/h14.js';

const net = '127.0.161'; // h14's lab subnets: 160-169
const EDGE_B = `${net}.2`;

t.test("an agent with an older certificate for edge-b cannot replace edge-b's live session", async (t) => {
  const pki = await writePki(t);
  await namedHttp(t, EDGE_B, 10255, 'edge-b');
  // the attacker's certificate for edge-b, issued an hour before the real one
  await writePemFiles(
    pki.dir,
    'agent-edge-b-old',
    await issueCertificate(pki.ca, { profile: 'agent', commonName: 'edge-b', ips: [EDGE_B], notBefore: new Date(Date.now() - 3_600_000) }),
  );
  const cluster = await startCluster(t, pki, [['nodes', nodeObject('edge-b', [EDGE_B])]]);
  await cluster.agent('edge-b', EDGE_B);
  t.ok(await eventually(async () => (await sessionOf(cluster, 'edge-b')) !== undefined, 20_000), 'the real agent attached');
  const live = await sessionOf(cluster, 'edge-b');

  // the attacker's agent claims edge-b with the older certificate
  const attacker = spawnApp(t, '@edge-tunnel/agent', [
    '--server',
    `127.0.0.1:${cluster.ports.agent}`,
    '--server-name',
    '127.0.0.1',
    '--node-name',
    'edge-b',
    '--node-ip',
    EDGE_B,
    '--cert',
    pki.path('agent-edge-b-old', 'crt'),
    '--key',
    pki.path('agent-edge-b-old', 'key'),
    '--ca',
    pki.path('ca', 'crt'),
    '--meta-addr',
    `${EDGE_B}:0`,
    '--reconnect-spread-ms',
    '0',
    '--backoff-base-ms',
    '100',
    '--backoff-max-ms',
    '500',
  ]);
  t.ok(
    await eventually(() => cluster.server.logged('agent refused: older certificate than the live session').length >= 2, 20_000),
    'the older certificate is refused, each time it tries',
  );
  const warn = cluster.server.logged('agent refused: older certificate than the live session')[0]!;
  t.match(warn, { nodeName: 'edge-b', code: 'OLDER_CERTIFICATE', reason: /live session with a newer certificate/ }, 'the warn line says why');
  t.equal(await sessionOf(cluster, 'edge-b'), live, 'the live session stays');
  t.equal(cluster.server.logged('agent session replaced: draining the old one').length, 0, 'nothing was replaced');
  let ok = 0;
  for (let i = 0; i < 10; i += 1) if ((await httpGet(`http://127.0.0.1:${cluster.ports.http}/healthz`, `${EDGE_B}:10255`)).status === 200) ok += 1;
  t.equal(ok, 10, 'edge-b answers through the live session');
  await attacker.stop();

  // a newer certificate (a renewal) replaces the live session
  await new Promise((r) => setTimeout(r, 1100)); // notBefore has second granularity
  await writePemFiles(pki.dir, 'agent-edge-b-new', await issueAgentCert(pki.ca, 'edge-b', [EDGE_B]));
  const renewed = spawnApp(t, '@edge-tunnel/agent', [
    '--server',
    `127.0.0.1:${cluster.ports.agent}`,
    '--server-name',
    '127.0.0.1',
    '--node-name',
    'edge-b',
    '--node-ip',
    EDGE_B,
    '--cert',
    pki.path('agent-edge-b-new', 'crt'),
    '--key',
    pki.path('agent-edge-b-new', 'key'),
    '--ca',
    pki.path('ca', 'crt'),
    '--meta-addr',
    `${EDGE_B}:0`,
    '--reconnect-spread-ms',
    '0',
  ]);
  t.ok(
    await eventually(() => cluster.server.logged('agent session replaced: draining the old one').length >= 1, 20_000),
    'a newer certificate replaces the live session',
  );
  t.not(await sessionOf(cluster, 'edge-b'), live);
  await renewed.stop();
});
