// Issue 17, "a 90 s blackhole with a 60 s grace ends them with the reason", with the flags an
// operator gets: the server's default --resume-grace-ms (60 000) and the default keepalive of both
// binaries (10 s interval, 30 s timeout; k8s/base sets none of them). A `kubectl exec -i` echo is
// in progress when edge-1's link goes dark (iptables DROP both ways, netns, root only).
//
// What the defaults give (spec §10.4, "Grace": the grace counts from the last byte received): a
// silent link is noticed by the link's keepalive ~30 s after its last byte, the session pauses then
// with ~30 s of its grace left, and it ends ~60 s after the cut, on both sides, with the grace as the
// reason: well before the link returns at 90 s, so the outcome is the same every run. Then the link
// returns and the agent attaches with a fresh session.
// kubectl exec itself may end first: its WebSocket heartbeat gives up after ~60 s of silence.
import t from 'tap';
import { chooseMode } from '../src/index.js';
import { kubectlMissing } from '../src/kubectl/kubectl.js';
import { exitWithin, waitFor } from './fixtures/kubectl-helpers.js';
import { echo, fields } from './fixtures/resume-streams.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';

const DEFAULT_GRACE_MS = 60_000; // apps/server/src/config-flags.ts, resume-grace-ms
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 30_000; // both binaries' keepalive-timeout-ms
const BLACKHOLE_MS = 90_000;

const mode = await chooseMode();
const skip = kubectlMissing() ?? (mode.mode !== 'netns' ? `needs netns mode (${mode.reason})` : false);

t.test(
  `[netns] a ${BLACKHOLE_MS / 1000} s blackhole under the default grace and keepalive: the exec ends with the grace as the reason, then a fresh session`,
  { skip, timeout: 300_000 },
  async (t) => {
    const { tb } = await withKubectlTestbed(t, 177, { serverArgs: [], agentArgs: [] });
    const net = tb.netns!;
    const edge = net.edges[0]!;
    const server = (msg: string) => tb.logs().filter((l) => l.includes('[server]') && l.includes(` ${msg}`) && l.includes(`nodeName=${edge.name}`));
    const agent = (re: RegExp) => tb.logs().filter((l) => l.includes(`[${edge.name}]`) && re.test(l));
    const PAUSED = 'agent connection lost: session paused for a resume';
    const EXPIRED = 'agent session ended: resume grace passed';

    const e = echo(tb.kubectl);
    await waitFor('the echo flowing', () => e.received() > 64 * 1024, 20_000);
    t.equal(server('agent attached').length, 1, 'one attach so far');
    const [pausedBefore, expiredBefore] = [server(PAUSED).length, server(EXPIRED).length];
    await net.partition(0);
    const cutAt = Date.now();
    t.teardown(() => net.heal(0));

    await waitFor('the server to notice the silent link', () => server(PAUSED).length > pausedBefore, DEFAULT_KEEPALIVE_TIMEOUT_MS + 20_000);
    const pausedMs = Date.now() - cutAt;
    t.ok(
      pausedMs >= DEFAULT_KEEPALIVE_TIMEOUT_MS - 10_000,
      `the server paused the session ${pausedMs} ms after the cut: its keepalive verdict (timeout ${DEFAULT_KEEPALIVE_TIMEOUT_MS} ms), not at once`,
    );
    const paused = fields(server(PAUSED).at(-1) ?? '');
    t.equal(paused['graceMs'], String(DEFAULT_GRACE_MS), 'with the default grace');
    const [silentMs, leftMs] = [Number(paused['silentMs']), Number(paused['graceLeftMs'])];
    t.ok(Math.abs(silentMs - pausedMs) < 3_000, `the pause line says how long the link had been silent: ${silentMs} ms (paused ${pausedMs} ms after the cut)`);
    t.ok(
      Math.abs(silentMs + leftMs - DEFAULT_GRACE_MS) <= 1,
      `and that ${leftMs} ms of the grace are left: it counts from the last byte, not from the verdict`,
    );

    const ended = exitWithin(e.streaming, BLACKHOLE_MS + DEFAULT_GRACE_MS);
    await waitFor('the server to give the session up', () => server(EXPIRED).length > expiredBefore, BLACKHOLE_MS - (Date.now() - cutAt));
    const expiredMs = Date.now() - cutAt;
    // the last byte came at most a few ms before the cut (the echo flows), so ~60 s after the cut;
    // counted from the verdict (the old start) it would be ≥ 60 + 30 s
    t.ok(
      expiredMs >= DEFAULT_GRACE_MS - 2_000 && expiredMs < DEFAULT_GRACE_MS + 5_000,
      `the session ended ${expiredMs} ms after the cut (grace ${DEFAULT_GRACE_MS} ms, paused at ${pausedMs} ms): a link silent for the grace is given up`,
    );
    const expired = server(EXPIRED).at(-1) ?? '';
    t.match(
      expired,
      new RegExp(
        `no resume within the grace of ${DEFAULT_GRACE_MS} ms after the connection was lost: nothing from the agent for \\d+ ms \\(no bytes on the connection`,
      ),
      'the server says why, and how long the link was silent',
    );
    await waitFor('the agent to give the session up', () => agent(/session not resumed: its streams end/).length > 0, BLACKHOLE_MS - (Date.now() - cutAt));
    const agentEndMs = Date.now() - cutAt;
    const agentEnd = agent(/session not resumed: its streams end/).at(-1) ?? '';
    t.match(
      agentEnd,
      new RegExp(`no resume within the server's grace of ${DEFAULT_GRACE_MS} ms: nothing from the server for \\d+ ms`),
      `the agent ends it too, on its own grace, before the link returns (${agentEndMs} ms after the cut): ${agentEnd.slice(0, 200)}`,
    );
    const exit = await ended;
    t.ok(exit, `kubectl exec ended ${exit ? exit.at - cutAt : '-'} ms after the cut`);
    t.not(exit?.code, 0, `non-zero exit (${exit?.code}): ${e.streaming.err().trim().slice(0, 200)}`);
    // kubectl's WebSocket heartbeat (client-go pings, the fake API server relays them to the
    // kubelet through the tunnel) gives up by itself after ~60 s without an answer: kubectl's own
    // limit, which can come before the tunnel's grace; the tunnel's end is the server's line above
    const own = /next reader: .*i\/o timeout/.test(e.streaming.err());
    t.ok(
      exit && (own || exit.at - cutAt >= expiredMs - 2_000),
      own ? 'kubectl gave up first on its own heartbeat timeout (i/o timeout)' : 'kubectl ended with the session',
    );
    t.ok(Date.now() - cutAt < BLACKHOLE_MS, 'all of it before the link returns');
    await new Promise((r) => setTimeout(r, Math.max(0, cutAt + BLACKHOLE_MS - Date.now())));

    await net.heal(0);
    const healedAt = Date.now();
    await net.waitForTunnels([edge.name], 30_000);
    t.comment(`edge-1 attached again ${Date.now() - healedAt} ms after the link returned`);
    const attached = server('agent attached');
    t.ok(attached.length >= 2, `a new attach after the heal (${attached.length} attach lines for ${edge.name})`);
    const [first, last] = [fields(attached[0] ?? ''), fields(attached.at(-1) ?? '')];
    if (first['sessionId'] !== undefined) t.not(last['sessionId'], first['sessionId'], `a fresh session (${first['sessionId']} -> ${last['sessionId']})`);
    const again = await tb.kubectl.run(['exec', 'demo', '-c', 'app', '--', 'echo', 'fresh']);
    t.equal(again.stdout.toString(), 'fresh\n', `exec over the fresh session (${again.stderr.trim()})`);
  },
);
