// Issue 17's four user sessions, all open at once on edge-1 with the real kubectl (netns, root only),
// across a fault on edge-1's agent connection; each must come out as if nothing had happened:
//  - `kubectl exec -i … cat` fed exactly 10 MiB: what came back has the SHA-256 of what was sent;
//  - a `kubectl port-forward` download of 200 MiB (see DOWNLOAD_BYTES): SHA-256 equal;
//  - `kubectl logs -f` of a container given a numbered line every 50 ms: each number once, in order;
//  - `kubectl exec -it … sh` on a terminal: answers a command typed before the fault, one typed
//    while the link is down and one typed after the resume, then exits 0.
// Faults: `ss -K` of the agent's TCP connection, and a blackhole (iptables DROP both ways) shorter
// than the grace. Every kubectl must exit cleanly with nothing on stderr; the test prints the pauses
// each session saw (its stalls of progress, in ms from the server's "connection lost").
import t, { type Test } from 'tap';
import { chooseMode } from '../src/index.js';
import { kubectlMissing } from '../src/kubectl/kubectl.js';
import { waitFor } from './fixtures/kubectl-helpers.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';
import { download, echo, fields, interactiveShell, logsFollow } from './fixtures/resume-streams.js';

const GRACE_MS = 15_000;
const KEEPALIVE = ['--keepalive-interval-ms', '1000', '--keepalive-timeout-ms', '3000'];
const BLACKHOLE_MS = 8_000; // + the 3 s keepalive verdict: well inside the grace
const MiB = 1024 * 1024;
const EXEC_BYTES = 10 * MiB;
// 200 MiB, as the issue asks. Through the tunnel's processes on this shared 2-core machine one took
// 29 s at load 5 (the file 77 s) and 40-51 s at load ~20 (the file 170 s of tap's 180 s timeout):
// RESUME_SESSIONS_DOWNLOAD_MIB=96 (or `tap --timeout 400`) on a busier machine.
const DOWNLOAD_BYTES = Number(process.env['RESUME_SESSIONS_DOWNLOAD_MIB'] ?? 200) * MiB;
const DOWNLOAD_RATE = 16 * MiB; // the source's pace (bytes/s): the download is still running at the fault
const AGENT_PORT = 10262;

const mode = await chooseMode();
const skip = kubectlMissing() ?? (mode.mode !== 'netns' ? `needs netns mode (${mode.reason})` : false);

/** Samples a progress counter every 25 ms until `done`; the stalls (no progress) of 300 ms or more, [from, to] epoch ms. */
function stallMeter(read: () => number | Promise<number>, done: (v: number) => boolean) {
  let last = -1;
  let since = Date.now();
  let running = true;
  const stalls: [number, number][] = [];
  const note = (now: number) => void (now - since >= 300 && stalls.push([since, now]));
  const loop = (async () => {
    while (running) {
      const v = await read();
      const now = Date.now();
      if (v !== last || done(v)) {
        note(now);
        last = v;
        since = now;
      }
      if (done(v)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    note(Date.now());
  })();
  return { stop: async () => ((running = false), await loop, stalls) };
}

/** The epoch ms of a formatted log line's `HH:MM:SS.mmm` (UTC, today). */
const logTime = (line: string): number => Date.parse(`${new Date().toISOString().slice(0, 10)}T${line.trim().slice(0, 12)}Z`);

t.test('[netns] exec -i, port-forward, logs -f and exec -it survive faults on the agent connection', { skip }, async (t) => {
  const { tb } = await withKubectlTestbed(t, 176, {
    serverArgs: [...KEEPALIVE, '--resume-grace-ms', String(GRACE_MS)],
    agentArgs: KEEPALIVE,
  });
  const net = tb.netns!;
  const edge = net.edges[0]!;
  const serverLines = (msg: string) => tb.logs().filter((l) => l.includes('[server]') && l.includes(` ${msg} `) && l.includes(`nodeName=${edge.name}`));
  const resumes = () => serverLines('agent session resumed');

  /**
   * The four sessions across a fault: `cut()` breaks the link (once all four flow), `restore()`
   * (optional) brings it back; the shell is asked once before the cut, once between cut and restore.
   */
  async function across(t: Test, name: string, cut: () => Promise<void>, restore: () => Promise<void> = async () => undefined) {
    const sh = interactiveShell(tb.kubectl);
    const before = await sh.ask('before');
    t.comment(`the shell answered ${before.answer} before the fault (${before.ms} ms)`);
    const logs = await logsFollow(tb, `${name}-tick`);
    const e = echo(tb.kubectl, { totalBytes: EXEC_BYTES });
    const dl = await download(tb, name, DOWNLOAD_BYTES, DOWNLOAD_RATE);
    await waitFor('all four flowing', async () => e.received() > 256 * 1024 && (await dl.progress()) > 16 * MiB && logs.received() > 10, 30_000);
    const meters = {
      'exec -i': stallMeter(e.received, (v) => v >= EXEC_BYTES),
      'port-forward': stallMeter(dl.progress, (v) => v >= DOWNLOAD_BYTES),
      'logs -f': stallMeter(logs.received, () => false),
    };
    await new Promise((r) => setTimeout(r, 500));
    const resumesBefore = resumes().length;
    const flowing = { echoed: e.received(), downloaded: await dl.progress(), logLines: logs.received() };
    t.ok(e.feeding() && flowing.downloaded < DOWNLOAD_BYTES, `all four mid-flow at the fault: ${JSON.stringify(flowing)}`);
    const cutAt = Date.now();
    await cut();
    // typed while the link is down (or the resume is under way): the shell must answer it after the resume
    const typedAt = Date.now();
    const during = sh.ask('during', GRACE_MS + 10_000);
    await restore();
    const restoredAt = Date.now();
    // no resume: the checks below still run and say what each user saw
    await waitFor('the resume', () => resumes().length > resumesBefore, GRACE_MS + 5_000).catch((err: Error) => t.fail(err.message));
    const resumedMs = Date.now() - restoredAt;
    const d = await during.catch((err: Error) => ({ answer: `none (${err.message})`, ms: -1 }));
    t.ok(d.ms >= 0, `the shell answered ${d.answer}, typed during the fault, ${d.ms} ms after it was typed`);
    const after = await sh.ask('after').catch((err: Error) => ({ answer: `none (${err.message})`, ms: -1 }));
    t.ok(after.ms >= 0, `the shell answered ${after.answer} after the resume (${after.ms} ms)`);

    const r = await e.finish();
    t.equal(r.sent, EXEC_BYTES, 'exec -i: exactly 10 MiB sent');
    t.ok(r.sameHash, `exec -i: SHA-256 of what came back equals what was sent (${r.got} of ${r.sent} bytes)`);
    t.equal(r.exit?.code, 0, 'kubectl exec -i exited 0');
    t.equal(r.stderr, '', 'kubectl exec -i printed nothing on stderr');
    const dr = await dl.finish();
    t.equal(dr.status, '200', 'port-forward: the download finished');
    t.ok(dr.same, `port-forward: ${DOWNLOAD_BYTES / MiB} MiB byte-identical (SHA-256), in ${dr.tookMs} ms`);
    t.equal(dr.stderr, '', 'kubectl port-forward printed nothing on stderr');
    const logsStall = await meters['logs -f'].stop();
    const lr = await logs.finish();
    t.ok(lr.inOrder, `logs -f: every one of ${lr.appended} numbered lines once, in order (got ${lr.got}, missing ${lr.missing}, repeated ${lr.repeated})`);
    t.equal(lr.stderr, '', 'kubectl logs -f printed nothing on stderr');
    const sr = await sh.finish();
    t.equal(sr.exit?.code, 0, 'kubectl exec -it exited 0 after `exit 0`');
    t.equal(sr.stderr, '', 'kubectl exec -it printed nothing on stderr');
    t.same(sr.complaints, [], 'and no error on its terminal');

    const lostAt = logTime(serverLines('agent connection lost: session paused for a resume').at(-1) ?? '');
    const resumedAt = logTime(resumes().at(-1) ?? '');
    const rel = (ms: number) => `${ms - lostAt >= 0 ? '+' : ''}${ms - lostAt}`;
    const show = (what: string, stalls: [number, number][]) => `${what} ${stalls.map(([a, b]) => `${b - a} ms [${rel(a)}, ${rel(b)}]`).join(' ') || 'none'}`;
    const pauses = [show('exec -i', await meters['exec -i'].stop()), show('port-forward', await meters['port-forward'].stop()), show('logs -f', logsStall)];
    pauses.push(`exec -it answered ${d.ms} ms after the line typed at ${rel(typedAt)} ms`);
    const line = fields(resumes().at(-1) ?? '');
    t.comment(
      `${name}: resumed ${resumedMs} ms after the link returned, ${restoredAt - cutAt} ms after the cut; server pausedMs=${line['pausedMs']} streams=${line['streams']} replayedBytes=${line['replayedBytes']}`,
    );
    t.comment(`${name}: stalls of 300 ms or more, ms relative to the server's "connection lost" (the resume at ${rel(resumedAt)}): ${pauses.join('; ')}`);
    t.comment(
      `${name}: exits: exec -i ${JSON.stringify(r.exit)}, port-forward ${JSON.stringify(dr.exit)} (SIGINT by the test), logs -f ${JSON.stringify(lr.exit)} (SIGINT by the test), exec -it ${JSON.stringify(sr.exit)}`,
    );
  }

  t.test('ss -K of the agent connection mid-flow', async (t) => {
    await across(t, 'ss-k', async () => {
      const kill = await net.exec(edge.ns, 'ss', ['-K', '-tn', 'state', 'established', `( dport = :${AGENT_PORT} )`]);
      t.equal(kill.code, 0, 'ss -K');
      t.match(kill.stdout, /ESTAB|\d+\.\d+\.\d+\.\d+:10262/, `ss -K killed the agent's connection: ${kill.stdout.trim().replace(/\s+/g, ' ')}`);
    });
  });

  t.test(`blackhole of ${BLACKHOLE_MS} ms (grace ${GRACE_MS} ms) mid-flow`, async (t) => {
    t.teardown(() => net.heal(0));
    const before = resumes().length;
    await across(
      t,
      'blackhole',
      async () => net.partition(0),
      async () => {
        await new Promise((r) => setTimeout(r, BLACKHOLE_MS));
        t.equal(resumes().length, before, 'no resume while the link is dark');
        await net.heal(0);
      },
    );
  });
});
