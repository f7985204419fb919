// A silent partition (netns, root only): iptables DROP between the cloud and edge 1, both ways, so
// the TCP connection stays "up" but carries nothing. Both sides must declare the peer dead within
// 2 × keepalive + 10 s, requests to edge 1 must fail fast with 503 NO_TUNNEL, edge 2 must not notice,
// and after heal the agent reconnects. This is the path without resumption (`--resume-grace-ms 0`):
// dead-peer detection that ends the session; with resumption the same silence pauses the session
// instead (tools/lab/test/resume.test.ts).
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { chooseMode, startTestbed, type Testbed } from '../src/index.js';

const KEEPALIVE = ['--keepalive-interval-ms', '1000', '--keepalive-timeout-ms', '3000'];
const BOUND_MS = 2 * 3000 + 10_000;
const mode = await chooseMode();
if (mode.mode !== 'netns') {
  t.test('[netns] silent partition', { skip: `needs netns mode (${mode.reason})` }, () => {});
} else {
  const tb: Testbed = await startTestbed({
    edges: 2,
    exporterOn: [],
    serverArgs: [...KEEPALIVE, '--resume-grace-ms', '0'],
    agentArgs: [...KEEPALIVE, '--backoff-base-ms', '200', '--backoff-max-ms', '1000'],
  });
  t.teardown(() => tb.close());
  const [a, b] = tb.edges as [Testbed['edges'][0], Testbed['edges'][0]];
  const connected = async (name: string): Promise<boolean> => {
    const res = await tb.exec(tb.cloudNs, 'curl', ['-sf', '-m', '1', `${tb.metaUrl}/debug/tunnels`], 3_000);
    const nodes = (JSON.parse(res.stdout || '{"nodes":[]}') as { nodes: Array<{ nodeName: string; connected?: boolean }> }).nodes;
    return nodes.some((n) => n.nodeName === name && n.connected !== false);
  };
  const healthz = (ip: string) => tb.curl(['-sS', '-m', '5', '-w', '\\n%{http_code}', '-D', '-', `http://${ip}:10255/healthz`]);

  t.test('[netns] silent partition of edge-1: dead peer detected on both sides, 503 NO_TUNNEL fast, edge-2 unaffected, heal reconnects', async (t) => {
    t.teardown(() => {
      if (!t.passing()) console.error(tb.logs().slice(-60).join('\n'));
    });
    t.equal((await healthz(a.ip)).stdout.split('\n').at(-1), '200', 'edge-1 answers before');
    const logsBefore = tb.logs().length;
    await tb.partition(0);
    const cut = performance.now();
    let serverMs = -1;
    while (performance.now() - cut < BOUND_MS + 2_000) {
      if (!(await connected(a.name))) {
        serverMs = performance.now() - cut;
        break;
      }
      await sleep(200);
    }
    t.ok(serverMs >= 0 && serverMs <= BOUND_MS, `server dropped edge-1 after ${serverMs.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
    let agentLine: string | undefined;
    while (performance.now() - cut < BOUND_MS && agentLine === undefined) {
      agentLine = tb
        .logs()
        .slice(logsBefore)
        .find((l) => l.includes(a.name) && /session lost/.test(l) && /no bytes from the peer|keepalive/i.test(l));
      if (agentLine === undefined) await sleep(200);
    }
    t.ok(agentLine, `the agent logged a keepalive timeout within ${BOUND_MS} ms: ${agentLine?.slice(0, 200)}`);
    const miss = await healthz(a.ip);
    t.equal(miss.stdout.split('\n').at(-1), '503', 'new request to edge-1: 503');
    t.match(miss.stdout, /X-Tunnel-Error: NO_TUNNEL/i);
    t.ok(miss.durationMs < 1_000, `failed fast (${miss.durationMs.toFixed(0)} ms)`);
    t.ok(await connected(b.name), 'edge-2 still attached');
    t.equal((await healthz(b.ip)).stdout.split('\n').at(-1), '200', 'edge-2 still answers');
    await tb.heal(0);
    const healed = performance.now();
    await tb.waitForTunnels([a.name], 20_000);
    t.comment(`edge-1 back ${(performance.now() - healed).toFixed(0)} ms after heal`);
    t.equal((await healthz(a.ip)).stdout.split('\n').at(-1), '200', 'edge-1 answers after heal');
  });
}
