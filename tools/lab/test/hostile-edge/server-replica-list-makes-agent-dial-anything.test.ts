// Attack 7: a malicious (or compromised) server lists 200 "replicas" in its hello; before the fix
// the agent dialed every one of them (201 dials, agent RSS ×2). Now it dials only addresses on the
// --server host or inside --replica-cidrs, and at most 16 of them.
import t from 'tap';
import { DialCounter, eventually, maliciousServer, spawnApp, writePki } from './fixtures/h3.js';

const SUBNET = 211; // h3's lab subnet: 127.0.211.x

t.test('a 200-entry replica list makes the agent dial only allowed addresses, at most 16', async (t) => {
  const pki = await writePki(t, [{ name: 'edge-a', ip: `127.0.${SUBNET}.1` }]);
  const counter = new DialCounter();
  t.teardown(() => counter.close());
  // 100 entries elsewhere (127.0.211.10-109: "anything", e.g. a cloud service) and 100 on the
  // server's own host (127.0.0.1, other ports) of which 16 may be dialed
  const foreign: string[] = [];
  for (let i = 10; i < 110; i++) foreign.push(await counter.listen(`127.0.${SUBNET}.${i}`));
  const sameHost: string[] = [];
  for (let i = 0; i < 100; i++) sameHost.push(await counter.listen('127.0.0.1'));
  const replicas = [...foreign, ...sameHost].map((addr, i) => ({ id: `r${i}`, addr }));
  const evil = await maliciousServer(t, pki, replicas);

  const agent = spawnApp(t, '@edge-tunnel/agent', [
    '--server',
    evil.addr,
    '--node-name',
    'edge-a',
    '--node-ip',
    `127.0.${SUBNET}.1`,
    '--cert',
    pki.path('agent-edge-a', 'crt'),
    '--key',
    pki.path('agent-edge-a', 'key'),
    '--ca',
    pki.path('ca', 'crt'),
    '--meta-addr',
    `127.0.${SUBNET}.1:0`,
    '--reconnect-spread-ms',
    '0',
    '--backoff-base-ms',
    '50',
    '--backoff-max-ms',
    '200',
  ]);
  t.ok(await eventually(() => evil.sessions > 0, 15_000), 'the agent attached to the malicious server');
  // the agent warns about the refused addresses once it has the list; give the dials time to happen
  t.ok(await eventually(() => agent.logged('replica addresses refused: not dialed').length > 0, 10_000), 'warn line: replica addresses refused');
  await eventually(() => [...counter.dialed].filter((a) => a.startsWith('127.0.0.1:')).length >= 16, 5_000);
  await new Promise((r) => setTimeout(r, 1_000)); // room for dials that should not happen
  const foreignDialed = foreign.filter((a) => counter.dialed.has(a));
  const sameHostDialed = sameHost.filter((a) => counter.dialed.has(a));
  t.equal(foreignDialed.length, 0, `no address outside the --server host / --replica-cidrs was dialed (dialed: ${foreignDialed.slice(0, 3).join(', ')})`);
  t.ok(sameHostDialed.length <= 16, `at most 16 replicas dialed (dialed ${sameHostDialed.length} of 100 on the server host)`);
  t.ok(sameHostDialed.length > 0, 'addresses on the --server host are still dialed (the check is not "dial nothing")');
  const warn = agent.logged('replica addresses refused: not dialed')[0]!;
  t.equal(warn['listed'], 201);
  t.match(String(warn['reason']), /outside --replica-cidrs/);
});

t.test('--replica-cidrs admits the listed range', async (t) => {
  const pki = await writePki(t, [{ name: 'edge-a', ip: `127.0.${SUBNET}.1` }]);
  const counter = new DialCounter();
  t.teardown(() => counter.close());
  const inside = [await counter.listen(`127.0.${SUBNET}.200`), await counter.listen(`127.0.${SUBNET}.201`)];
  const outside = await counter.listen(`127.0.${SUBNET}.120`);
  const evil = await maliciousServer(
    t,
    pki,
    [...inside, outside].map((addr, i) => ({ id: `r${i}`, addr })),
  );
  spawnApp(t, '@edge-tunnel/agent', [
    '--server',
    evil.addr,
    '--node-name',
    'edge-a',
    '--node-ip',
    `127.0.${SUBNET}.1`,
    '--cert',
    pki.path('agent-edge-a', 'crt'),
    '--key',
    pki.path('agent-edge-a', 'key'),
    '--ca',
    pki.path('ca', 'crt'),
    '--meta-addr',
    `127.0.${SUBNET}.1:0`,
    '--reconnect-spread-ms',
    '0',
    '--replica-cidrs',
    `127.0.${SUBNET}.200/31`,
  ]);
  t.ok(await eventually(() => inside.every((a) => counter.dialed.has(a)), 15_000), 'both replicas inside --replica-cidrs dialed');
  await new Promise((r) => setTimeout(r, 500));
  t.notOk(counter.dialed.has(outside), 'the replica outside --replica-cidrs was not dialed');
});
