// Issue 17's weak links with the real kubectl (netns, root only): every edge's uplink crosses the
// testbed's delay line at 300 ms RTT (150 ms each way), 20 Mbit/s and 1 % loss each way.
//  - dead-peer detection gives no false verdict: a port-forward download that fills the line, then
//    an idle spell of more than twice the keepalive timeout, and neither end logs a lost connection;
//  - `ss -K` of the agent's connection over the weak link: the session resumes and a `kubectl exec -i`
//    echo in flight comes back intact.
import t from 'tap';
import { chooseMode, delayLineMissing } from '../src/index.js';
import { kubectlMissing } from '../src/kubectl/kubectl.js';
import { waitFor } from './fixtures/kubectl-helpers.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';
import { MiB, download, echo, fields } from './fixtures/resume-streams.js';

const KEEPALIVE_TIMEOUT_MS = 5_000;
const KEEPALIVE = ['--keepalive-interval-ms', '1000', '--keepalive-timeout-ms', String(KEEPALIVE_TIMEOUT_MS)];
const GRACE_MS = 30_000;
const IDLE_MS = 2 * KEEPALIVE_TIMEOUT_MS + 2_000;
const AGENT_PORT = 10262;

const mode = await chooseMode();
const skip = kubectlMissing() ?? (mode.mode !== 'netns' ? `needs netns mode (${mode.reason})` : (delayLineMissing() ?? false));

t.test('[netns] a weak uplink: 300 ms RTT, 20 Mbit/s, 1 % loss', { skip }, async (t) => {
  const { tb } = await withKubectlTestbed(t, 176, {
    serverArgs: [...KEEPALIVE, '--resume-grace-ms', String(GRACE_MS)],
    agentArgs: KEEPALIVE,
    weakLink: { delayMs: 150, rateMbit: 20, lossPct: 1, seed: 17 },
  });
  const net = tb.netns!;
  const edge = net.edges[0]!;
  const line = net.weakLink!;
  // the agent's 'connection lost: resuming the session', the server's 'agent connection lost: session paused for a resume'
  const verdicts = () => tb.logs().filter((l) => (l.includes('[server]') || l.includes(`[${edge.name}]`)) && /connection lost|session paused/.test(l));
  const serverResumes = () => tb.logs().filter((l) => l.includes('[server]') && l.includes(' agent session resumed ') && l.includes(`nodeName=${edge.name}`));

  t.test(`no false dead-peer verdict: a 12 MiB download, then ${IDLE_MS / 1000} s idle (keepalive timeout ${KEEPALIVE_TIMEOUT_MS / 1000} s)`, async (t) => {
    const dl = await download(tb, 'weak-bulk', 12 * MiB);
    const d = await dl.finish();
    t.equal(d.status, '200', 'the download finished');
    t.ok(d.same, 'download byte-identical over the weak link (SHA-256)');
    t.equal(d.stderr, '', 'kubectl port-forward printed no error');
    const c = await line.counts();
    t.comment(
      `12 MiB in ${d.tookMs} ms (${((12 * 8 * 1.048576) / (d.tookMs / 1000)).toFixed(1)} Mbit/s); the line dropped ${c.up.lost} of ${c.up.seen} packets up ` +
        `(${c.up.queueDrops} at the full queue), ${c.down.lost} of ${c.down.seen} down`,
    );
    t.ok(c.up.lost > 0 && c.down.lost > 0, 'the line did drop packets both ways');
    await new Promise((r) => setTimeout(r, IDLE_MS));
    t.same(verdicts(), [], 'neither end declared the connection lost, during the download or the idle spell');
    t.equal(serverResumes().length, 0, 'and no resume happened');
  });

  t.test('ss -K of the agent connection over the weak link: a kubectl exec -i echo continues intact', async (t) => {
    const e = echo(tb.kubectl);
    await waitFor('the echo flowing', () => e.received() > 64 * 1024, 30_000);
    const before = serverResumes().length;
    const kill = await net.exec(edge.ns, 'ss', ['-K', '-tn', 'state', 'established', `( dport = :${AGENT_PORT} )`]);
    t.equal(kill.code, 0, 'ss -K');
    const killedAt = Date.now();
    await waitFor('the resume', () => serverResumes().length > before, GRACE_MS);
    const resumedMs = Date.now() - killedAt;
    const sentAtResume = e.sent();
    await waitFor('the echo to answer what was typed after the resume', () => e.received() > sentAtResume, 20_000).catch((err: Error) => t.fail(err.message));
    const r = await e.finish();
    t.equal(r.exit?.code, 0, `kubectl exec -i exited 0 (${r.stderr.trim()})`);
    t.ok(r.intact, `the echo returned every line once, in order (${r.got} of ${r.sent} bytes)`);
    t.ok(r.sameHash, 'SHA-256 of what came back equals what was sent');
    t.equal(r.stderr, '', 'kubectl exec printed no error');
    t.ok(verdicts().length > 0, `the ss -K itself was logged as a lost connection: the check of the first test sees such lines (${verdicts().length})`);
    const s = fields(serverResumes().at(-1)!);
    t.comment(
      `resumed ~${resumedMs} ms after ss -K; paused ${s['pausedMs']} ms (server), ${s['streams']} streams carried, ${s['replayedBytes']} bytes replayed`,
    );
  });
});
