// The lab as an operator uses it: real server and agent processes, emulated kubelets, and the real
// curl binary running exactly the commands `npm start` prints.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sh, startTestLab } from './fixtures/lab.js';

const hasCurl = (await sh('command -v curl')).code === 0;
const lines: string[] = [];
const lab = hasCurl ? await startTestLab(41, lines) : undefined;
t.teardown(() => lab?.close());

t.test('every printed command works through the tunnel', { skip: !lab && 'curl is not installed' }, async (t) => {
  const expectations: Array<[RegExp, RegExp]> = [
    [/stats\/summary'?$/, /"nodeName":"edge-/],
    [/\/pods$/, /"kind":"PodList"/],
    [/9100\/metrics$/, /node_exporter_scrapes_total/],
    [/healthz$/, /^ok/],
    [
      /metrics\/resource$/,
      /^container_cpu_usage_seconds_total\{container="app",namespace="default",pod="demo"\} [\d.e+-]+ \d+$[\s\S]*^node_cpu_usage_seconds_total [\d.e+]+ \d+$[\s\S]*^resource_scrape_error 0$/m,
    ],
    [/9999\/$/, /403 Forbidden[\s\S]*PORT_NOT_CONFIGURED/],
    [/debug\/tunnels$/, /"edge-a"[\s\S]*"edge-b"/],
  ];
  for (const { title, command } of lab!.commands.filter((c) => !c.command.includes('follow=true'))) {
    const res = await sh(command);
    const expected = expectations.find(([cmd]) => cmd.test(command))?.[1];
    t.ok(expected, `an expectation exists for: ${title}`);
    t.match(res.stdout, expected!, title);
  }
});

t.test('logs -f streams through HTTPS and closing the client closes it at the kubelet', { skip: !lab }, async (t) => {
  const follow = lab!.commands.find((c) => c.command.includes('follow=true'))!;
  const kubelet = lab!.kubelets.get('edge-a')!;
  const res = await sh(`timeout 2.5 ${follow.command}; true`);
  t.match(res.stdout, /edge-a\/demo\/app line \d+\n[\s\S]*line \d+/, 'lines arrived while following');
  const deadline = Date.now() + 1_000;
  while (kubelet.activeFollowers() > 0 && Date.now() < deadline) await sleep(20);
  t.equal(kubelet.activeFollowers(), 0, 'the follower at the kubelet is gone within 1 s');
});

t.test('200 concurrent requests across two nodes', { skip: !lab }, async (t) => {
  const { serverHost, ports, nodes } = lab!;
  const urls = Array.from({ length: 200 }, (_, i) => {
    const node = nodes[i % 2]!;
    return `-o /dev/null --connect-to ${node.ip}:10255:${serverHost}:${ports.http} http://${node.ip}:10255/healthz`;
  });
  // curl --parallel runs all 200 from one process, as many connections at once.
  const res = await sh(`curl -s --parallel --parallel-max 200 -w '%{http_code}\\n' ${urls.join(' ')}`, 30_000);
  const codes = res.stdout.trim().split('\n');
  t.equal(codes.length, 200);
  t.same(
    codes.filter((c) => c !== '200'),
    [],
    'every request answered 200',
  );
});

t.test(
  'a custom port opened live in the config file carries 100 MiB (the agent follows it, no restart); one above an agent ceiling is refused',
  { skip: !lab },
  async (t) => {
    // edge-a's agent has no --allow-ports: the port works because the server told it over the session
    const node = lab!.nodes[0]!;
    const capped = lab!.nodes[1]!;
    const sink = createServer((req, res) => {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => res.end(hash.digest('hex')));
    });
    await new Promise<void>((r) => sink.listen(9180, node.ip, r));
    t.teardown(() => sink.close());
    const via = (port: number, n = node): string => `--connect-to ${n.ip}:${port}:${lab!.serverHost}:${lab!.ports.http} http://${n.ip}:${port}/upload`;
    const before = await sh(`curl -s -o /dev/null -w '%{http_code}' ${via(9180)}`);
    t.equal(before.stdout, '403', 'not configured yet: 403');
    await writeFile(lab!.configPath, `dnat-ports-pair: '9100=10264,9180=10264,9181=10264'\n`);
    let status = before.stdout;
    for (let i = 0; i < 40 && status === '403'; i++) {
      await sleep(250);
      status = (await sh(`curl -s -o /dev/null -w '%{http_code}' ${via(9180)}`)).stdout;
    }
    const file = join(lab!.dir, 'body.bin');
    await writeFile(file, randomBytes(100 * 1024 * 1024));
    const expected = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    const upload = await sh(`curl -s --data-binary @${file} ${via(9180)}`, 60_000);
    t.equal(upload.stdout, expected, '100 MiB arrived intact (SHA-256 computed at the sink)');
    // edge-b's agent runs with --allow-ports 9100,9180: 9181 is configured but above its ceiling
    const refused = await sh(`curl -s -w '\\n%{http_code}' ${via(9181, capped)}`);
    // :10264 takes no credentials: the caller reads the reason code and a fixed sentence, the audit line has the why
    t.match(
      refused.stdout,
      /AGENT_CEILING: [\d.]+:9181: the port is configured, but the edge node's agent does not allow it[\s\S]*\n403$/,
      'the caller learns the agent ceiling refused it',
    );
    t.notMatch(refused.stdout, /9100,9180/, "the agent's ceiling is not shown to the caller");
    // audit lines are info lines, written in batches (at most LOG_FLUSH_MS later)
    const audited = (): boolean =>
      lines.some((l) => l.includes('"msg":"audit"') && l.includes('"reason":"AGENT_CEILING"') && l.includes('EDGE_TUNNEL_ALLOW_PORTS on edge-b'));
    for (let i = 0; i < 100 && !audited(); i++) await sleep(20);
    t.ok(audited(), 'the audit line names the flag and the node');
    const tunnels = JSON.parse((await sh(`curl -s http://${lab!.serverHost}:${lab!.ports.meta}/debug/tunnels`)).stdout) as {
      nodes: Array<{ nodeName: string; refusedPorts?: { node: string } }>;
    };
    t.equal(tunnels.nodes.find((n) => n.nodeName === 'edge-b')?.refusedPorts?.node, '9181', '/debug/tunnels lists it for edge-b');
    t.notOk(tunnels.nodes.find((n) => n.nodeName === 'edge-a')?.refusedPorts, 'and nothing for edge-a');
  },
);

t.test('agent killed: fast 503 (its session paused for a resume); restarted: requests succeed again', { skip: !lab }, async (t) => {
  const node = lab!.nodes[0]!;
  const url = `--connect-to ${node.ip}:10255:${lab!.serverHost}:${lab!.ports.http} http://${node.ip}:10255/healthz`;
  await lab!.agents.get(node.name)!.stop('SIGKILL');
  let res = await sh(`curl -s -w '\\n%{http_code} %{time_total}' ${url}`);
  for (let i = 0; i < 40 && !/503 /.test(res.stdout); i++) {
    await sleep(100);
    res = await sh(`curl -s -w '\\n%{http_code} %{time_total}' ${url}`);
  }
  const [status, seconds] = res.stdout.trim().split('\n').at(-1)!.split(' ');
  t.equal(status, '503', 'no tunnel for the node: 503');
  t.ok(Number(seconds) < 0.5, `answered in ${seconds} s`);
  // a killed agent looks like a lost connection: the server holds the session for a resume
  // (--resume-grace-ms) and says so; the restarted agent's new session ends the paused one
  t.match(res.stdout, /TUNNEL_PAUSED/);
  lab!.startAgent(node);
  await lab!.waitForTunnels([node.name]);
  res = await sh(`curl -s ${url}`);
  t.equal(res.stdout, 'ok', 'the restarted agent carries requests');
});
