// The real kubectl through the emulated API server, with every agent behind Debian's squid: the netns
// testbed's egressProxy puts a proxy namespace between the edges and the cloud, so an edge has no
// route to the server except squid's CONNECT (asserted: a direct TCP connect fails). Agents start as an
// operator starts them: the DaemonSet manifest's own args plus HTTPS_PROXY (user:password in its URL)
// in the environment; or --proxy with --proxy-auth-file; and over WebSocket through squid. Each runs
// kubectl logs, logs -f, exec -i … cat (1 MiB, SHA-256) and port-forward + curl (1 MiB, SHA-256);
// squid restarted (SIGTERM, start) makes the agents reconnect through it and kubectl works again;
// squid's access.log shows the CONNECTs (TCP_TUNNEL/200, the proxy user), and the proxy password is in
// no process log line and in neither of squid's logs. Root (netns mode) with squid and kubectl only.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { kubectlMissing } from '../src/kubectl/kubectl.js';
import { freePort, type KubectlTestbed } from '../src/kubectl/testbed.js';
import type { EgressProxyOptions } from '../src/netns/options.js';
import { squidMissing } from '../src/netns/squid.js';
import { chooseMode } from '../src/netns/testbed.js';
import { exitWithin, streaming, waitFor } from './fixtures/kubectl-helpers.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';
import { startPodDownload } from './fixtures/pod-download.js';

const mode = await chooseMode();
const skip = kubectlMissing() ?? squidMissing() ?? (mode.mode !== 'netns' ? `needs netns mode (${mode.reason})` : false);
const MiB = 1024 * 1024;
// random, so that finding it anywhere can only mean a leak
const AUTH = { user: 'edge-proxy', password: `Pw-${randomBytes(8).toString('hex')}` };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `connected` of /debug/tunnels, asked in the cloud. */
async function connected(tb: KubectlTestbed): Promise<number> {
  const r = await tb.cloudExec('curl', ['-s', '-m', '2', `${tb.netns!.metaUrl}/debug/tunnels`]);
  try {
    return (JSON.parse(r.stdout) as { connected: number }).connected;
  } catch {
    return -1;
  }
}

/** logs, logs -f, exec -i … cat with 1 MiB, port-forward + curl of 1 MiB: through squid and the tunnel. */
async function kubectlWorks(t: Test, tb: KubectlTestbed, label: string): Promise<void> {
  const k = tb.kubectl;
  const node = tb.nodes[0]!.name;
  const marker = `${label} marker ${randomBytes(4).toString('hex')}`;
  await tb.appendLog(node, 'app', marker);
  const logs = await k.run(['logs', 'demo', '-c', 'app']);
  t.equal(logs.code, 0, `${label}: kubectl logs: ${logs.stderr}`);
  t.match(logs.stdout.toString(), new RegExp(`^\\S+ ${node}/demo/app line 1\\n[^]*\\n${re(marker)}\\n`), `${label}: kubectl logs has the kubelet's lines`);

  const follow = streaming(k.spawn(['logs', '-f', 'demo', '-c', 'app', '--tail=1']));
  await waitFor('the follower on the kubelet', async () => follow.out().length > 0 && (await tb.activeFollowers(node)) === 1, 20_000);
  await tb.appendLog(node, 'app', `${marker} followed`);
  await waitFor('the line written after logs -f started', () => follow.out().includes(`${marker} followed\n`), 10_000).catch((err: Error) =>
    t.fail(`${label}: ${err.message}; got ${JSON.stringify(follow.out().slice(-200))}`),
  );
  t.ok(follow.out().includes(`${marker} followed\n`), `${label}: kubectl logs -f got a line written after it started`);
  follow.child.kill('SIGINT');
  t.ok(await exitWithin(follow, 5_000), `${label}: kubectl logs -f ended on SIGINT`);

  const input = randomBytes(MiB);
  const echo = await k.run(['exec', '-i', 'demo', '-c', 'app', '--', 'cat'], { input, timeoutMs: 60_000 });
  t.equal(echo.code, 0, `${label}: kubectl exec -i: ${echo.stderr}`);
  t.equal(sha(echo.stdout), sha(input), `${label}: exec -i … cat echoed 1 MiB, SHA-256 equal (${echo.durationMs} ms)`);

  const body = randomBytes(MiB);
  const src = join(tb.dir, `${label}.src`);
  await writeFile(src, body);
  const source = await startPodDownload(tb.netns!, tb.netns!.edgeNs[0]!, src, 8 * MiB);
  const localPort = await freePort();
  const pf = streaming(k.spawn(['port-forward', 'pod/demo', `${localPort}:${source.port}`]));
  try {
    await waitFor('port-forward to listen', () => pf.out().includes('Forwarding from 127.0.0.1'), 20_000);
    const got = join(tb.dir, `${label}.got`);
    const curl = await tb.cloudExec('curl', ['-s', '-o', got, '-w', '%{http_code}', `http://127.0.0.1:${localPort}/`], 60_000);
    t.equal(curl.stdout, '200', `${label}: curl through port-forward: ${curl.stderr}`);
    t.equal(sha(await readFile(got)), sha(body), `${label}: port-forward download of 1 MiB, SHA-256 equal`);
  } finally {
    pf.child.kill('SIGINT');
    await exitWithin(pf, 5_000);
    await source.close();
  }
}

/**
 * squid stopped (SIGTERM: its tunnels end, the agents see the connection lost and their redials fail
 * with proxy_unreachable), then started again: every agent comes back through it. With the server's
 * resumption (default grace 60 s) that is a `session resumed`; a lost session gives a new `session up`.
 */
async function squidRestart(t: Test, tb: KubectlTestbed, labLog: readonly string[], label: string): Promise<void> {
  const net = tb.netns!;
  const squid = net.proxy!.squid;
  const mark = labLog.length;
  const since = (node: string, msg: RegExp): boolean => labLog.slice(mark).some((l) => l.includes(` [${node}] `) && msg.test(l));
  const names = tb.nodes.map((n) => n.name);
  const lost = / (connection lost: resuming the session|session lost) /;
  const back = / (session resumed|session up) /;
  await squid.stop();
  await waitFor('every agent to see the loss', () => names.every((n) => since(n, lost)), 30_000).catch(() => undefined);
  for (const n of names) t.ok(since(n, lost), `${label}: squid stopped: ${n} logged the connection lost`);
  await waitFor('a redial to fail at the proxy', () => names.some((n) => since(n, / connect failed .*code=proxy_unreachable /)), 30_000).catch(() => undefined);
  t.ok(
    names.some((n) => since(n, / connect failed .*code=proxy_unreachable .*check the proxy address and that it is running/)),
    `${label}: while squid is down a redial fails with proxy_unreachable`,
  );
  await squid.start();
  await waitFor('every agent back through squid', () => names.every((n) => since(n, back)), 60_000).catch(() => undefined);
  for (const n of names) t.ok(since(n, back), `${label}: squid back: ${n} logged its session resumed (or a new one up)`);
  await net.waitForTunnels();
  const established = await net.exec(net.proxy!.ns, 'ss', ['-Htn', 'state', 'established', 'sport', '=', `:${net.proxy!.port}`]);
  t.ok(established.stdout.trim().split('\n').filter(Boolean).length >= tb.nodes.length, `${label}: the sessions are squid's connections again`);
  const edge1 = labLog.slice(mark).filter((l) => l.includes(' [edge-1] '));
  t.comment(['what edge-1 logged:', ...[lost, / connect failed /, back].map((m) => edge1.find((l) => m.test(l)) ?? '')].join('\n'));
}

/** The proxy password: nowhere in the process logs, nor in squid's; squid's access.log shows the CONNECTs it carried. */
function noPassword(t: Test, tb: KubectlTestbed, labLog: readonly string[], label: string, wsPort?: number): void {
  const squid = tb.netns!.proxy!.squid;
  const basic = Buffer.from(`${AUTH.user}:${AUTH.password}`).toString('base64');
  const all = [labLog.join('\n'), squid.accessLog(), squid.cacheLog()].join('\n');
  for (const proc of ['server', 'apiserver', ...tb.nodes.flatMap((n) => [n.name, `kubelet-${n.name}`])]) {
    t.ok(
      labLog.some((l) => l.includes(`[${proc}] `)),
      `${label}: the ${labLog.length} log lines searched include ${proc}'s`,
    );
  }
  t.notOk(all.includes(AUTH.password), `${label}: the password is in no process log line and in neither of squid's logs`);
  t.notOk(all.includes(basic), `${label}: nor its Basic encoding`);
  t.notOk(all.includes(encodeURIComponent(AUTH.password).slice(0, 12)), `${label}: nor a part of it`);
  const lb = `${re(tb.netns!.lbAddress)}:${wsPort ?? 10262}`;
  t.match(
    squid.accessLog(),
    new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${lb} ${AUTH.user} `),
    `${label}: squid's access.log: TCP_TUNNEL/200 CONNECT ${tb.netns!.lbAddress}:${wsPort ?? 10262} as ${AUTH.user}`,
  );
}

/** An edge's only way out is squid: a direct TCP connect to the server's addresses fails; CONNECT through squid works. */
async function noRouteButSquid(t: Test, tb: KubectlTestbed): Promise<void> {
  const net = tb.netns!;
  const proxy = net.proxy!;
  for (const [i, ns] of net.edgeNs.entries()) {
    for (const target of [`${net.lbAddress}/10262`, `${net.serverAddress}/10263`, `${proxy.cloudLinkCloud}/10262`]) {
      const direct = await net.exec(ns, 'bash', ['-c', `exec 3<>/dev/tcp/${target}`], 5_000);
      t.not(direct.code, 0, `edge-${i + 1}: a direct TCP connect to ${target.replace('/', ':')} fails`);
      t.match(direct.stderr, /Network is unreachable/, `edge-${i + 1} → ${target.replace('/', ':')}: no route`);
    }
    const via = await net.exec(
      ns,
      'curl',
      [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_connect}',
        '-m',
        '5',
        '-k',
        '-x',
        `http://${proxy.address}:${proxy.port}`,
        '--proxy-user',
        `${AUTH.user}:${AUTH.password}`,
        `https://${net.lbAddress}:10262/`,
      ],
      10_000,
    );
    t.equal(via.stdout, '200', `edge-${i + 1}: through squid, CONNECT ${net.lbAddress}:10262 gets 200`);
  }
  t.equal(await connected(tb), tb.nodes.length, 'and every agent attached through squid');
}

async function variant(
  t: Test,
  label: string,
  egressProxy: EgressProxyOptions,
  agentCommand: 'testbed' | 'daemonset',
  restart: boolean,
  checkRoutes = false,
): Promise<void> {
  const { tb, labLog } = await withKubectlTestbed(t, 149, { egressProxy, agentCommand });
  const net = tb.netns!;
  const proxy = net.proxy!;
  t.comment(`${label}: squid on ${proxy.url} in ${proxy.ns}; agents: ${agentCommand}, proxy via ${egressProxy.via ?? 'env'}`);
  const start = labLog.find((l) => l.includes('[edge-1]') && l.includes(' agent starting '));
  t.match(
    start,
    new RegExp(
      `proxy=${re(proxy.url)} \\(from ${egressProxy.via === 'flag' ? '--proxy, Basic auth from \\S+proxy-auth' : 'HTTPS_PROXY, Basic auth from the user:password in HTTPS_PROXY'}\\)`,
    ),
    `${label}: the agent's start line names the proxy and where its credentials come from`,
  );
  t.comment(`edge-1: ${start?.replace(/^.*? agent starting /, 'agent starting ')}`);
  if (checkRoutes) await noRouteButSquid(t, tb);
  if (egressProxy.via !== 'flag') {
    const pid = net.agents.get('edge-1')!.child.pid!;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    t.ok(
      environ.split('\0').includes(`HTTPS_PROXY=http://${AUTH.user}:${AUTH.password}@${proxy.address}:${proxy.port}`),
      `${label}: the agent holds the password (HTTPS_PROXY in its environment), so the log check below means something`,
    );
  }
  await kubectlWorks(t, tb, label);
  if (restart) {
    await squidRestart(t, tb, labLog, label);
    await kubectlWorks(t, tb, `${label}, after the squid restart`);
  }
  // squid writes a tunnel's line when it ends: stop it (closing the sessions) before reading its log
  await proxy.squid.stop();
  noPassword(t, tb, labLog, label, egressProxy.transport === 'websocket' ? 443 : undefined);
}

t.test('[netns] DaemonSet args + HTTPS_PROXY (user:password in the URL), TLS: no route but squid; kubectl through it; squid restart', { skip }, (t) =>
  variant(t, 'daemonset+HTTPS_PROXY', { kind: 'squid', auth: AUTH, via: 'env' }, 'daemonset', true, true),
);

t.test('[netns] --proxy + --proxy-auth-file, TLS: kubectl through squid', { skip }, (t) =>
  variant(t, '--proxy-auth-file', { kind: 'squid', auth: AUTH, via: 'flag' }, 'testbed', false),
);

t.test('[netns] DaemonSet args + HTTPS_PROXY, --transport websocket (wss:// to :443 through squid): kubectl; squid restart', { skip }, (t) =>
  variant(t, 'websocket', { kind: 'squid', auth: AUTH, via: 'env', transport: 'websocket' }, 'daemonset', true),
);
