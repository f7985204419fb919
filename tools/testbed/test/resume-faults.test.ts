// Issue 17's fault scenarios with the real kubectl (netns, root only): an echo shell (`kubectl exec
// -i … cat`) and a `kubectl port-forward` download, both in progress, across a fault on edge-1's
// agent connection; the user sees only a pause, the same bytes and no kubectl error.
//  - `ss -K` of the agent's TCP connection in its namespace;
//  - a blackhole (iptables DROP both ways) shorter than the grace: the streams continue after it;
//  - NAT rebinding: a SNAT rule in the edge namespace for new connections, the old flow's packets
//    dropped (the NAT forgot it) and the agent's socket killed: the server's socket stays
//    ESTABLISHED; the resume arrives from the new port and displaces the stale socket;
//  - a blackhole longer than the grace: the echo ends, both ends log the grace as the reason, and
//    the agent attaches again with a fresh session.
import t, { type Test } from 'tap';
import { chooseMode } from '../src/index.js';
import { kubectlMissing } from '../src/kubectl/kubectl.js';
import { exitWithin, waitFor } from './fixtures/kubectl-helpers.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';
import { download, echo, fields } from './fixtures/resume-streams.js';

const GRACE_MS = 12_000;
const KEEPALIVE = ['--keepalive-interval-ms', '1000', '--keepalive-timeout-ms', '3000'];
const SHORT_BLACKHOLE_MS = 8_000; // the grace counts from the last byte: well inside it
const MiB = 1024 * 1024;
const AGENT_PORT = 10262;
const NAT_PORTS = '61000-61999'; // above the kernel's ephemeral range: a port the agent never picks itself

const mode = await chooseMode();
const skip = kubectlMissing() ?? (mode.mode !== 'netns' ? `needs netns mode (${mode.reason})` : false);

t.test('[netns] resumption faults under the real kubectl', { skip }, async (t) => {
  const { tb } = await withKubectlTestbed(t, 148, {
    serverArgs: [...KEEPALIVE, '--resume-grace-ms', String(GRACE_MS)],
    agentArgs: KEEPALIVE,
  });
  const net = tb.netns!;
  const edge = net.edges[0]!;
  const serverLines = (msg: string) => tb.logs().filter((l) => l.includes('[server]') && l.includes(` ${msg} `) && l.includes(`nodeName=${edge.name}`));
  const resumes = () => serverLines('agent session resumed');
  const agentConns = async (ns: string, filter: string) =>
    (await net.exec(ns, 'ss', ['-Htn', 'state', 'established', filter])).stdout.split('\n').filter((l) => l.trim() !== '');

  /** An echo and a download across `fault()`; resolves once both finished, asserting what the user sees. */
  async function across(t: Test, name: string, fault: () => Promise<void>): Promise<Record<string, string>> {
    const e = echo(tb.kubectl);
    const dl = await download(tb, name, 24 * MiB);
    await waitFor('both streams flowing', async () => e.received() > 64 * 1024 && (await dl.progress()) > 3 * MiB, 20_000);
    const before = resumes().length;
    await fault();
    await waitFor('the resume', () => resumes().length > before, GRACE_MS + 5_000);
    const sentAtResume = e.sent();
    await waitFor('the echo to answer what was typed after the resume', () => e.received() > sentAtResume, 10_000).catch((err: Error) => t.fail(err.message));
    const d = await dl.finish();
    t.equal(d.status, '200', 'the download finished');
    t.ok(d.same, 'download byte-identical across the fault (SHA-256)');
    t.equal(d.stderr, '', 'kubectl port-forward printed no error');
    const r = await e.finish();
    t.equal(r.exit?.code, 0, `kubectl exec -i exited 0 (${r.stderr.trim()})`);
    t.ok(r.intact, `the echo returned every line once, in order (${r.got} of ${r.sent} bytes)`);
    t.equal(r.stderr, '', 'kubectl exec printed no error');
    const line = resumes().at(-1)!;
    const agentLine =
      tb
        .logs()
        .filter((l) => l.includes(`[${edge.name}]`) && l.includes(' session resumed '))
        .at(-1) ?? '';
    t.comment(
      `${name}: paused ${fields(line)['pausedMs']} ms (server), ${fields(agentLine)['pausedMs']} ms (agent); ${fields(line)['streams']} streams carried, ${fields(line)['replayedBytes']} bytes replayed by the server`,
    );
    return fields(line);
  }

  t.test('ss -K of the agent connection: exec -i echo and port-forward download continue', async (t) => {
    await across(t, 'ss-k', async () => {
      t.equal((await agentConns(edge.ns, `( dport = :${AGENT_PORT} )`)).length, 1, 'one agent connection in the edge namespace');
      const kill = await net.exec(edge.ns, 'ss', ['-K', '-tn', 'state', 'established', `( dport = :${AGENT_PORT} )`]);
      t.equal(kill.code, 0, 'ss -K');
    });
  });

  t.test(`blackhole of ${SHORT_BLACKHOLE_MS} ms (grace ${GRACE_MS} ms): the streams continue once the link is back`, async (t) => {
    const before = resumes().length;
    // watched from the heal on: starting the streams can take a while on a loaded machine
    let watch: Promise<number> = Promise.resolve(-1);
    await across(t, 'blackhole', async () => {
      await net.partition(0);
      await new Promise((r) => setTimeout(r, SHORT_BLACKHOLE_MS));
      t.equal(resumes().length, before, 'no resume while the link is dark');
      await net.heal(0);
      const healedAt = Date.now();
      watch = waitFor('the resume after the heal', () => resumes().length > before, GRACE_MS + 10_000).then(
        () => Date.now() - healedAt,
        () => -1,
      );
    });
    t.comment(`resumed ${await watch} ms after the link returned`);
  });

  t.test('NAT rebinding: the connection gets a new source port mid-flow; the resume from it is accepted and displaces the stale socket', async (t) => {
    const snat = [
      'POSTROUTING',
      '-o',
      'uplink',
      '-p',
      'tcp',
      '-d',
      net.lbAddress,
      '--dport',
      String(AGENT_PORT),
      '-j',
      'SNAT',
      '--to-source',
      `${edge.uplinkEdge}:${NAT_PORTS}`,
    ];
    // the rules stay until the namespace goes: taking the SNAT out would rebind the flow once more
    const fromEdge = `( sport = :${AGENT_PORT} and dst ${edge.uplinkEdge} )`;
    const resumed = await across(t, 'nat-rebinding', async () => {
      const old = await agentConns(net.cloudNs!, fromEdge);
      t.equal(old.length, 1, `the server has one connection from edge-1: ${old.join(' | ')}`);
      const oldPort = old[0]!.trim().split(/\s+/).at(-1)!.split(':').at(-1)!;
      t.equal((await net.exec(edge.ns, 'iptables', ['-w', '-t', 'nat', '-I', ...snat])).code, 0, 'SNAT rule in the edge namespace');
      // the NAT forgot the old mapping: the old flow's packets go nowhere (the server's socket stays
      // ESTABLISHED, the stale connection the resume must displace); new connections get a NAT port
      const forgotten = ['OUTPUT', '-p', 'tcp', '--sport', oldPort, '--dport', String(AGENT_PORT), '-j', 'DROP'];
      t.equal((await net.exec(edge.ns, 'iptables', ['-w', '-I', ...forgotten])).code, 0, 'the old flow dropped');
      await net.exec(edge.ns, 'ss', ['-K', '-tn', 'state', 'established', `( sport = :${oldPort} and dport = :${AGENT_PORT} )`]);
    });
    // the server usually still holds the old socket as live (pausedMs 0) and the resume displaces it; its
    // reset may also land a few ms first: either way the resume follows at once
    t.ok(Number(resumed['pausedMs']) < 1_000, `the resume came at once (the server paused ${resumed['pausedMs']} ms)`);
    const port = Number(resumed['remoteAddress']?.split(':').at(-1));
    t.ok(port >= 61_000 && port <= 61_999, `the resume came from the rebound port (${resumed['remoteAddress']})`);
    let now: string[] = [];
    await waitFor('the stale socket to go', async () => (now = await agentConns(net.cloudNs!, fromEdge)).length === 1, 3_000).catch(() => undefined);
    t.equal(now.length, 1, `one connection left on the server, the stale one displaced: ${now.join(' | ')}`);
    t.match(now[0] ?? '', new RegExp(`${edge.uplinkEdge.replaceAll('.', '\\.')}:${port}\\b`), 'and it is the rebound one');
  });

  t.test(`blackhole longer than the grace: the echo ends with the grace as the reason, the agent attaches with a fresh session`, async (t) => {
    const e = echo(tb.kubectl);
    await waitFor('the echo flowing', () => e.received() > 64 * 1024, 20_000);
    const expiredBefore = serverLines('agent session ended: resume grace passed').length;
    await net.partition(0);
    const cutAt = Date.now();
    t.teardown(() => net.heal(0));
    await waitFor('the server to give the session up', () => serverLines('agent session ended: resume grace passed').length > expiredBefore, GRACE_MS + 10_000);
    const expiredMs = Date.now() - cutAt;
    const ended = await exitWithin(e.streaming, 10_000);
    t.ok(ended, `kubectl exec ended ${ended ? ended.at - cutAt : '-'} ms after the cut, the grace ${expiredMs} ms after it`);
    // the grace counts from the last byte from the agent, a moment before the cut took effect; from the
    // keepalive verdict (3 s later) it would end after GRACE_MS + 3 s
    t.ok(expiredMs >= GRACE_MS - 1_000 && expiredMs < GRACE_MS + 2_500, `the grace after the last byte (${expiredMs} ms after the cut, grace ${GRACE_MS} ms)`);
    t.not(ended?.code, 0, `non-zero exit (${ended?.code}): ${e.streaming.err().trim()}`);
    t.match(
      serverLines('agent session ended: resume grace passed').at(-1),
      new RegExp(`no resume within the grace of ${GRACE_MS} ms after the connection was lost`),
      'the server says why',
    );
    const rebound = resumes().at(-1) ?? '';
    t.equal(
      fields(serverLines('agent connection lost: session paused for a resume').at(-1) ?? '')['remoteAddress'],
      fields(rebound)['remoteAddress'],
      "the pause names the connection it lost (the rebound one), not the session's first",
    );
    await net.heal(0);
    const healedAt = Date.now();
    await net.waitForTunnels([edge.name], 20_000);
    t.comment(`edge-1 attached again ${Date.now() - healedAt} ms after the link returned`);
    const agentEnd = tb.logs().find((l) => l.includes(`[${edge.name}]`) && /(session not resumed|resume refused): its streams end/.test(l));
    t.match(
      agentEnd ?? '',
      new RegExp(`no resume within the server's grace of ${GRACE_MS} ms|UNKNOWN_SESSION`),
      `the agent says why: ${agentEnd?.slice(0, 200)}`,
    );
    const again = await tb.kubectl.run(['exec', 'demo', '-c', 'app', '--', 'echo', 'fresh']);
    t.equal(again.stdout.toString(), 'fresh\n', `exec over the fresh session (${again.stderr.trim()})`);
  });
});
