// Session resumption with 3 server replicas (real processes) behind a round-robin load balancer:
// the agent keeps one session per replica (the DaemonSet's flags; --replica-cidrs narrowed to the
// replicas' range as an overlay does), a download runs through each replica's :10264, and `ss -K`
// cuts the node's connection to ONE replica. That session resumes on the same replica (also the one
// the agent first reached through the load balancer: it redials the replica's advertised address),
// every download completes byte-identical, and the other two replicas never notice (same session
// id, no loss, resume or attach line). An agent that knows only the load balancer (--replica-cidrs
// none) redials through it: a replica that does not hold the session refuses OTHER_REPLICA (not
// UNKNOWN_SESSION) and the agent retries through the load balancer until it reaches the right one.
// Needs root (ss -K uses the kernel's SOCK_DESTROY). Run under `flock /tmp/et-lab.lock`.
import t, { type Test } from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../src/wait.js';
import { sh } from './fixtures/lab.js';
import { startReplicaRig, type ReplicaRig, type RigNode, type RigReplica } from './fixtures/replica-rig.js';

const root = process.getuid?.() === 0;
const hasSs = (await sh('command -v ss')).code === 0;
const skip = !root ? 'needs root for ss -K' : !hasSs ? 'needs ss (iproute2)' : false;
const MiB = 1024 * 1024;

const direct: RigNode = { name: 'edge-d', ip: '127.0.179.21', agentArgs: ['--replica-cidrs=127.0.179.0/24'] };
const lbOnly: RigNode = { name: 'edge-l', ip: '127.0.179.22', agentArgs: ['--replica-cidrs=none'] };

let rig: ReplicaRig | undefined;
t.before(async () => {
  if (skip) return;
  rig = await startReplicaRig([direct, lbOnly], 16 * MiB);
  await waitFor(
    'edge-d on every replica',
    async () => (await Promise.all(rig!.replicas.map((r) => rig!.tunnel(r, direct.name)))).every((v) => v?.connected),
    40_000,
  );
  await waitFor(
    'edge-l on one replica',
    async () => (await Promise.all(rig!.replicas.map((r) => rig!.tunnel(r, lbOnly.name)))).some((v) => v?.connected),
    40_000,
  );
  // the servers write their logs in batches: the attach lines must be in before a test marks the log
  await waitFor('the attach lines', async () => rig!.replicas.every((r) => has(rig!.linesOf(r.id, 0), 'agent attached', direct.name)), 10_000);
});
t.teardown(async () => {
  if (rig && !t.passing()) console.error(rig.lines.slice(-120).join('\n'));
  await rig?.close();
});

const has = (lines: string[], msg: string, node: string): boolean => lines.some((l) => l.includes(`"msg":"${msg}"`) && l.includes(`"nodeName":"${node}"`));
/** the replica edge-d's agent reached through the load balancer (its 'replica session up' line says via lb) */
function lbServed(r: ReplicaRig): RigReplica {
  const up = r.linesOf(direct.name, 0).find((l) => l.includes('"msg":"replica session up"') && l.includes('"via":"lb"'));
  const addr = /"replicaAddr":"([^"]+)"/.exec(up ?? '')?.[1];
  const hit = r.replicas.find((x) => addr === `${x.host}:10262`);
  if (!hit) throw new Error(`no load-balancer session line of edge-d: ${up}`);
  return hit;
}

async function cutOneOfThree(t: Test, r: ReplicaRig, victim: RigReplica): Promise<void> {
  const before = new Map(await Promise.all(r.replicas.map(async (x) => [x.id, (await r.tunnel(x, direct.name))?.sessionId] as const)));
  t.ok([...before.values()].every(Boolean), `edge-d has a session on every replica: ${JSON.stringify([...before])}`);
  const mark = r.lines.length;
  const downloads = r.replicas.map((x) => r.download(x, direct));
  await sleep(1200); // a few MiB in, through every replica
  const killed = await r.cut(victim, direct.name);
  t.ok(killed >= 1, `ss -K on edge-d's connection to ${victim.id} (${killed} sockets)`);
  const results = await Promise.all(downloads);
  for (const [i, x] of r.replicas.entries()) {
    const res = results[i]!;
    t.equal(res.status, 200, `the download through ${x.id} answered 200`);
    t.ok(res.sha256 === r.sha256, `the download through ${x.id} is byte-identical (${res.bytes} bytes${res.error ? `, ${res.error}` : ''})`);
  }
  await sleep(300); // log lines arrive in batches
  t.ok(has(r.linesOf(victim.id, mark), 'agent session resumed', direct.name), `${victim.id} logged 'agent session resumed' for edge-d`);
  t.equal((await r.tunnel(victim, direct.name))?.sessionId, before.get(victim.id), `${victim.id}: the same session (resumed, not replaced)`);
  for (const x of r.replicas.filter((y) => y !== victim)) {
    const lines = r.linesOf(x.id, mark);
    const noticed = [
      'agent session resumed',
      'agent connection lost: session paused for a resume',
      'agent attached',
      'agent resume refused',
      'agent session closed',
    ].filter((m) => has(lines, m, direct.name) || lines.some((l) => l.includes(`"msg":"${m}"`) && l.includes(`"certNode":"${direct.name}"`)));
    t.same(noticed, [], `${x.id} never noticed`);
    t.equal((await r.tunnel(x, direct.name))?.sessionId, before.get(x.id), `${x.id}: the same session id`);
  }
  const agent = r.linesOf(direct.name, mark);
  t.equal(agent.filter((l) => l.includes('"msg":"connection lost: resuming the session"')).length, 1, 'the agent lost exactly one connection');
  t.equal(agent.filter((l) => l.includes('"msg":"session resumed"')).length, 1, 'the agent resumed it once');
  t.notOk(
    agent.some((l) => /"msg":"(session lost|reconnecting|resume refused)/.test(l)),
    `no session lost, reconnect or refusal on the agent: ${agent
      .filter((l) => /session lost|reconnecting|refused/.test(l))
      .join(' | ')
      .slice(0, 400)}`,
  );
}

t.test('3 replicas: a cut of the connection to a replica dialed directly resumes on it; the others never notice', { skip }, async (t) => {
  const r = rig!;
  const served = lbServed(r);
  await cutOneOfThree(
    t,
    r,
    r.replicas.find((x) => x !== served)!,
  );
});

t.test('3 replicas: the session first reached through the load balancer resumes on the same replica (its advertised address)', { skip }, async (t) => {
  const r = rig!;
  const victim = lbServed(r);
  const lbDials = r.lbLog.length;
  await cutOneOfThree(t, r, victim);
  t.equal(r.lbLog.length, lbDials, 'the resume did not go through the load balancer');
});

t.test('an agent that knows only the load balancer: another replica refuses OTHER_REPLICA, the agent retries until the right one', { skip }, async (t) => {
  const r = rig!;
  const views = await Promise.all(r.replicas.map((x) => r.tunnel(x, lbOnly.name)));
  const holder = r.replicas[views.findIndex((v) => v?.connected)]!;
  t.equal(views.filter((v) => v?.connected).length, 1, `edge-l has one session (on ${holder.id})`);
  const sessionId = views.find((v) => v?.connected)!.sessionId;
  const others = r.replicas.filter((x) => x !== holder);
  const mark = r.lines.length;
  const download = r.download(holder, lbOnly);
  await sleep(1200);
  // the load balancer sends the next dials to the two replicas that do not hold the session, then to it
  r.steer([...others, holder]);
  t.ok((await r.cut(holder, lbOnly.name)) >= 1, `ss -K on edge-l's connection to ${holder.id}`);
  const res = await download;
  t.equal(res.status, 200, 'the download answered 200');
  t.ok(res.sha256 === r.sha256, `the download is byte-identical (${res.bytes} bytes${res.error ? `, ${res.error}` : ''})`);
  await sleep(300);
  t.ok(has(r.linesOf(holder.id, mark), 'agent session resumed', lbOnly.name), `${holder.id} logged 'agent session resumed' for edge-l`);
  t.equal((await r.tunnel(holder, lbOnly.name))?.sessionId, sessionId, 'the same session (resumed, not replaced)');
  const refusals = others.flatMap((x) => r.linesOf(x.id, mark)).filter((l) => l.includes('"msg":"agent resume refused"'));
  t.equal(refusals.length, 2, `the load balancer sent the resume to the two other replicas first (${refusals.length} refusals)`);
  t.ok(
    refusals.every((l) => l.includes('"code":"OTHER_REPLICA"')),
    `refused OTHER_REPLICA, not UNKNOWN_SESSION: ${refusals.map((l) => /"code":"(\w+)"/.exec(l)?.[1]).join(',')}`,
  );
  const agent = r.linesOf(lbOnly.name, mark);
  t.ok(
    agent.some((l) => l.includes('"code":"OTHER_REPLICA"') && l.includes('retrying through the load balancer')),
    'the agent logged the retry through the load balancer',
  );
  t.notOk(
    agent.some((l) => /"msg":"(session lost|resume refused: its streams end)"/.test(l)),
    'the agent never gave the session up',
  );
});
