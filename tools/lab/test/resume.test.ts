// Session resumption with real server and agent processes: the agent's TCP connection is killed
// with `ss -K` in the middle of a long download through the tunnel; the agent redials the same
// server and resumes the session, the download completes byte-identical, and the resume is counted
// in /metrics and per node on /debug/tunnels. New requests while the session is paused get a fast
// 503 TUNNEL_PAUSED with Retry-After. Needs root (ss -K uses the kernel's SOCK_DESTROY).
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sh, startTestLab } from './fixtures/lab.js';
import { cutAgentConnection, pacedSource } from './fixtures/cuts.js';

const root = process.getuid?.() === 0;
const hasTools = (await sh('command -v curl && command -v ss')).code === 0;
const skip = !root ? 'needs root for ss -K' : !hasTools ? 'needs curl and ss' : false;
const MiB = 1024 * 1024;

t.test('ss -K on the agent connection mid-download: the session resumes, the download completes byte-identical', { skip }, async (t) => {
  const lines: string[] = [];
  const lab = await startTestLab(130, lines);
  t.teardown(() => lab.close());
  t.teardown(() => {
    if (!t.passing()) console.error(lines.slice(-80).join('\n'));
  });
  const node = lab.nodes[0]!;
  const body = randomBytes(96 * MiB);
  const expected = createHash('sha256').update(body).digest('hex');
  // a paced source: 96 MiB at ~16 MiB/s, so the cut lands in the middle
  const source = await pacedSource(body, node.ip, 9180);
  t.teardown(() => source.close());
  await writeFile(lab.configPath, `dnat-ports-pair: '9100=10264,9180=10264'\n`);
  const via = `--connect-to ${node.ip}:9180:${lab.serverHost}:${lab.ports.http} http://${node.ip}:9180/big`;
  for (let i = 0; i < 40 && (await sh(`curl -s -o /dev/null -w '%{http_code}' --max-time 1 ${via}`)).stdout === '403'; i++) await sleep(250);

  const file = join(lab.dir, 'download.bin');
  const download = sh(`curl -s -o ${file} -w '%{http_code}' ${via}`, 120_000);
  for (let i = 0; i < 200; i++) {
    const size = await stat(file).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 24 * MiB) break;
    await sleep(50);
  }
  // the agent's connection to the server's agent port, found by the agent's pid
  const cut = await cutAgentConnection(lab.agents.get(node.name)!.child.pid!, lab.ports.agent);
  t.equal(cut.found, 1, "one connection of edge-a's agent");
  t.equal(cut.code, 0, `ss -K on ${cut.local}`);
  const cutAt = Date.now();

  // a new request while paused: fast 503 TUNNEL_PAUSED with Retry-After (or already resumed: 200)
  const during = await sh(`curl -s -i --max-time 5 --connect-to ${node.ip}:10255:${lab.serverHost}:${lab.ports.http} http://${node.ip}:10255/healthz`);
  if (/^HTTP\/1\.1 503/.test(during.stdout)) {
    t.match(during.stdout, /X-Tunnel-Error: TUNNEL_PAUSED/i, 'paused: the reason');
    t.match(during.stdout, /Retry-After: \d+/i, 'paused: Retry-After');
  } else t.match(during.stdout, /^HTTP\/1\.1 200/, 'the session had resumed already');

  const status = await download;
  t.equal(status.stdout, '200', 'the download finished');
  const got = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  t.equal(got, expected, 'byte-identical (SHA-256) across the cut');
  const resumed = lines.find((l) => l.includes('agent session resumed'));
  t.ok(resumed, `the server logged the resume: ${resumed?.slice(0, 240)}`);
  t.ok(
    lines.some((l) => l.includes('session resumed') && l.includes('"pausedMs"')),
    'the agent logged the resume',
  );
  const tunnels = JSON.parse((await sh(`curl -s http://${lab.serverHost}:${lab.ports.meta}/debug/tunnels?node=${node.name}`)).stdout) as {
    nodes: Array<{ nodeName: string; resume?: { succeeded: number; streamsCarried: number; bytesReplayed: number; paused: boolean; lastResumeMs?: number } }>;
  };
  const r = tunnels.nodes.find((n) => n.nodeName === node.name)?.resume;
  t.ok(r && r.succeeded === 1 && !r.paused, `/debug/tunnels: one resume, not paused (${JSON.stringify(r)})`);
  t.ok(r && r.streamsCarried >= 1, 'the download stream was carried across');
  t.comment(
    `resume ${r?.lastResumeMs} ms after the loss (as the server saw it), ${r?.bytesReplayed} bytes replayed by the server; test saw ${Date.now() - cutAt} ms to the end`,
  );
  const metrics = (await sh(`curl -s http://${lab.serverHost}:${lab.ports.meta}/metrics`)).stdout;
  t.match(metrics, /edge_tunnel_resumes_total\{result="succeeded"\} 1/, 'metrics: one resume succeeded');
  t.match(metrics, /edge_tunnel_resume_streams_carried_total [1-9]/, 'metrics: streams carried');
});

t.test('grace over: a server-side cut while the agent is frozen ends the download with the reason; the agent then gets a new session', { skip }, async (t) => {
  const lines: string[] = [];
  const lab = await startTestLab(131, lines, ['--resume-grace-ms', '1500']);
  t.teardown(() => lab.close());
  t.teardown(() => {
    if (!t.passing()) console.error(lines.slice(-80).join('\n'));
  });
  const node = lab.nodes[0]!;
  // an endless source: the download can only end by the tunnel ending it
  const source = createServer((_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    const tick = setInterval(() => (res.destroyed ? clearInterval(tick) : res.write(chunk)), 10);
  });
  await new Promise<void>((r) => source.listen(9180, node.ip, r));
  t.teardown(() => source.close());
  await writeFile(lab.configPath, `dnat-ports-pair: '9100=10264,9180=10264'\n`);
  const via = `--connect-to ${node.ip}:9180:${lab.serverHost}:${lab.ports.http} http://${node.ip}:9180/endless`;
  for (let i = 0; i < 40 && (await sh(`curl -s -o /dev/null -w '%{http_code}' --max-time 1 ${via}`)).stdout === '403'; i++) await sleep(250);
  const download = sh(`curl -s -o /dev/null -w '%{http_code} %{size_download}' ${via}`, 30_000);
  await sleep(500);
  const agent = lab.agents.get(node.name)!.child;
  // freeze the agent, then cut its connection: the server pauses the session, nobody can resume it
  agent.kill('SIGSTOP');
  t.teardown(() => void agent.kill('SIGCONT'));
  const cut = await cutAgentConnection(agent.pid!, lab.ports.agent);
  t.equal(cut.code, 0, `ss -K on ${cut.local}`);
  const cutAt = Date.now();
  const res = await download;
  const endedMs = Date.now() - cutAt;
  t.ok(endedMs >= 1_000 && endedMs < 10_000, `the download ended ${endedMs} ms after the cut (grace 1500 ms)`);
  t.notMatch(res.stdout, /^200 0$/, `it had been flowing: ${res.stdout}`);
  // the server writes its log in batches: the line can arrive a moment after the download ended
  for (let i = 0; i < 40 && !lines.some((l) => l.includes('resume grace passed')); i++) await sleep(50);
  const expired = lines.find((l) => l.includes('resume grace passed'));
  t.match(expired ?? '', /no resume within the grace of 1500 ms after the connection was lost/, `the server logged why: ${expired?.slice(0, 240)}`);
  const metrics = (await sh(`curl -s http://${lab.serverHost}:${lab.ports.meta}/metrics`)).stdout;
  t.match(metrics, /edge_tunnel_resumes_total\{result="expired"\} 1/, 'metrics: one grace expired');
  // thawed, the agent tries to resume, is refused (the session is gone) and opens a new session
  agent.kill('SIGCONT');
  await lab.waitForTunnels([node.name], 20_000);
  const refused = lines.find((l) => l.includes('resume refused'));
  t.match(refused ?? '', /UNKNOWN_SESSION/, `the agent was refused with the reason: ${refused?.slice(0, 240)}`);
  const again = await sh(`curl -s --max-time 5 --connect-to ${node.ip}:10255:${lab.serverHost}:${lab.ports.http} http://${node.ip}:10255/healthz`);
  t.equal(again.stdout, 'ok', 'the node is reachable again over its new session');
});
