// The agent behind Debian's squid, in network namespaces where the edge has no route to the server
// (fixtures/squid-netns.ts): CONNECT allowed with and without Basic auth (basic_ncsa_auth, an
// htpasswd made with openssl) carries the session and a request through it; a squid that denies
// CONNECT gives the agent's precise 403 line; with --transport auto behind squid's default policy
// (CONNECT to 443 only) the agent falls back to WebSocket on 443 through squid; with every CONNECT
// denied it cannot, and says why (wss:// needs CONNECT: the session is never sent in clear through a
// forwarding proxy). Root only; skipped with the reason otherwise.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCa, issueAgentCert, issueCallerCert, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { Squid, makeTopology, netnsUnavailable, type Topology } from './fixtures/squid-netns.js';

const SERVER_MAIN = new URL('../../../apps/server/dist/main.js', import.meta.url).pathname;
const AGENT_MAIN = new URL('../../../apps/agent/dist/main.js', import.meta.url).pathname;
const NODE_NAME = 'edge-sq';
const SQUID_PORT = 3128;
const META = 10265;
const HTTP = 10264;
const KUBELET_RO = 10255;
const skip = netnsUnavailable() ?? false;

interface Proc {
  child: ChildProcess;
  out: string[];
}

function inNs(ns: string, args: string[]): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (c: Buffer) => out.push(...c.toString().split('\n').filter(Boolean)));
  return { child, out };
}

const stop = async (p: Proc | undefined) => {
  if (!p || p.child.exitCode !== null) return;
  p.child.kill('SIGTERM');
  await new Promise((r) => p.child.once('exit', r));
};

function sh(ns: string, cmd: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

let topo: Topology | undefined;
let dir = '';
let server: Proc | undefined;
let kubelet: Proc | undefined;

if (!skip) {
  topo = makeTopology();
  t.teardown(async () => {
    await stop(server);
    await stop(kubelet);
    topo?.close();
  });
  dir = mkdtempSync(join(tmpdir(), 'et-squid-test-'));
  const ca = await createCa({ commonName: 'edge-tunnel-squid-test-ca' });
  await writePemFiles(dir, 'ca', { certPem: ca.certPem });
  await writePemFiles(dir, 'server', await issueServerCert(ca, { ips: [topo.serverIp] }));
  await writePemFiles(dir, 'kubelet-client', await issueKubeletClientCert(ca));
  await writePemFiles(dir, 'caller', await issueCallerCert(ca));
  await writePemFiles(dir, 'agent', await issueAgentCert(ca, NODE_NAME, [topo.edgeIp]));
  writeFileSync(join(dir, 'ports.yaml'), '{}\n');
  const s = topo.serverIp;
  server = inNs(topo.serverNs, [
    SERVER_MAIN,
    '--agent-addr',
    `${s}:10262`,
    '--agent-ws-addr',
    `${s}:443`,
    '--https-addr',
    `127.0.0.1:10263`,
    '--http-addr',
    `127.0.0.1:${HTTP}`,
    '--meta-addr',
    `127.0.0.1:${META}`,
    '--cert',
    join(dir, 'server.crt'),
    '--key',
    join(dir, 'server.key'),
    '--agent-ca',
    join(dir, 'ca.crt'),
    '--caller-ca',
    join(dir, 'ca.crt'),
    '--kubelet-client-cert',
    join(dir, 'kubelet-client.crt'),
    '--kubelet-client-key',
    join(dir, 'kubelet-client.key'),
    '--config',
    join(dir, 'ports.yaml'),
  ]);
  await until('the server listening', () => server!.out.some((l) => l.includes('"server listening"')));
  // the node's read-only kubelet port, as the agent dials it: a one-line HTTP server on the edge's node IP
  kubelet = inNs(topo.edgeNs, ['-e', `require('node:http').createServer((q, r) => r.end('kubelet-ro ' + q.url)).listen(${KUBELET_RO}, '${topo.edgeIp}')`]);
}

function agent(extra: string[]): Proc {
  return inNs(topo!.edgeNs, [
    AGENT_MAIN,
    '--server',
    `${topo!.serverIp}:10262`,
    '--node-name',
    NODE_NAME,
    '--node-ip',
    topo!.edgeIp,
    '--cert',
    join(dir, 'agent.crt'),
    '--key',
    join(dir, 'agent.key'),
    '--ca',
    join(dir, 'ca.crt'),
    '--meta-addr',
    '127.0.0.1:10266',
    '--backoff-base-ms',
    '200',
    '--backoff-max-ms',
    '1000',
    '--reconnect-spread-ms',
    '0',
    '--proxy',
    `http://${topo!.proxyIp}:${SQUID_PORT}`,
    ...extra,
  ]);
}

const lines = (p: Proc) =>
  p.out.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
const line = (p: Proc, msg: string) => lines(p).find((l) => l['msg'] === msg);

/** The node's row of /debug/tunnels (asked inside the server namespace). */
function tunnel(): { connected?: boolean; transport?: string } | undefined {
  const r = sh(topo!.serverNs, ['curl', '-s', '-m', '2', `http://127.0.0.1:${META}/debug/tunnels?node=${NODE_NAME}`]);
  try {
    return (JSON.parse(r.stdout) as { nodes: Array<{ connected?: boolean; transport?: string }> }).nodes[0];
  } catch {
    return undefined;
  }
}

async function withSquid(t: Test, opts: ConstructorParameters<typeof Squid>[3]): Promise<Squid> {
  const squid = new Squid(topo!.proxyNs, topo!.proxyIp, SQUID_PORT, opts);
  await squid.start();
  t.teardown(() => squid.stop());
  return squid;
}

async function withAgent(t: Test, extra: string[]): Promise<Proc> {
  const a = agent(extra);
  t.teardown(async () => {
    await stop(a);
    await until('the session gone', () => tunnel()?.connected !== true, 10_000).catch(() => {});
  });
  return a;
}

t.test('the edge has no route to the server except through the proxy', { skip }, async (t) => {
  const direct = sh(topo!.edgeNs, ['curl', '-sS', '-m', '3', '-k', `https://${topo!.serverIp}:10262/`]);
  t.not(direct.code, 0);
  t.match(direct.stderr, /Network is unreachable|Couldn't connect|No route/, 'a direct dial fails');
});

t.test('CONNECT allowed: the session through squid, a request through the session; squid restart → reconnect', { skip }, async (t) => {
  const squid = await withSquid(t, { connectPorts: [443, 10262] });
  const a = await withAgent(t, []);
  await until('the session', () => tunnel()?.connected === true);
  t.equal(tunnel()?.transport, 'tls');
  const r = sh(topo!.serverNs, ['curl', '-sS', '-m', '5', '-H', `Host: ${topo!.edgeIp}:${KUBELET_RO}`, `http://127.0.0.1:${HTTP}/stats/summary`]);
  t.equal(r.stdout, 'kubelet-ro /stats/summary', 'the kubelet port answers through squid and the tunnel');
  await squid.stop();
  // squid logs a CONNECT when its tunnel ends
  t.match(squid.accessLog(), new RegExp(`TCP_TUNNEL/200 .*CONNECT ${topo!.serverIp.replaceAll('.', '\\.')}:10262`), "squid's log shows the tunnel");
  await until('the session lost', () => tunnel()?.connected !== true);
  await squid.start();
  await until('reconnected through the restarted squid', () => tunnel()?.connected === true);
  t.ok(line(a, 'session lost') || line(a, 'connection lost: resuming the session'), 'the agent saw the loss (a lost session, or a paused one it resumed)');
});

t.test('Basic auth (basic_ncsa_auth): none → proxy_auth naming --proxy-auth-file; the right file passes; never logged', { skip }, async (t) => {
  const password = 'Sq-pw-4471';
  await withSquid(t, { connectPorts: [10262], auth: { user: 'edge', password } });
  const none = agent([]);
  await until('a failed dial', () => line(none, 'connect failed') !== undefined);
  await stop(none);
  t.match(line(none, 'connect failed'), { code: 'proxy_auth', reason: /407.*give --proxy-auth-file/ });
  const file = join(dir, 'proxy-auth');
  writeFileSync(file, `edge:${password}\n`, { mode: 0o600 });
  const good = await withAgent(t, ['--proxy-auth-file', file]);
  await until('the session', () => tunnel()?.connected === true);
  const all = [...none.out, ...good.out, ...server!.out].join('\n');
  t.notOk(all.includes(password), 'the password is in no log line');
  t.notOk(all.includes(Buffer.from(`edge:${password}`).toString('base64')), 'nor its Basic encoding');
});

t.test('squid denies CONNECT: the precise 403 line; auto tries WebSocket, which needs CONNECT too, and says so', { skip }, async (t) => {
  const squid = await withSquid(t, { connectPorts: [] });
  const tls = agent([]);
  await until('a failed dial', () => line(tls, 'connect failed') !== undefined);
  await stop(tls);
  const failed = line(tls, 'connect failed')!;
  t.match(failed, {
    level: 50,
    code: 'proxy_forbidden',
    transport: 'tls',
    reason: new RegExp(
      `^proxy http://${topo!.proxyIp.replaceAll('.', '\\.')}:${SQUID_PORT} \\(from --proxy\\) forbids CONNECT ${topo!.serverIp.replaceAll('.', '\\.')}:10262 \\(403 Forbidden\\): ask its operator to allow CONNECT to port 10262`,
    ),
  });
  t.comment(`agent: ${JSON.stringify({ level: failed['level'], code: failed['code'], reason: failed['reason'] })}`);
  t.match(squid.accessLog(), /TCP_DENIED\/403 .*CONNECT/);

  const auto = await withAgent(t, ['--transport', 'auto', '--ws-url', `wss://${topo!.serverIp}/edge-tunnel/v1/session`]);
  await until('the WebSocket attempt failed', () => lines(auto).some((l) => l['msg'] === 'connect failed' && l['transport'] === 'websocket'));
  t.match(line(auto, 'transport auto: TLS failed, trying WebSocket'), { because: 'proxy_refused_connect' });
  t.match(
    lines(auto).find((l) => l['msg'] === 'connect failed' && l['transport'] === 'websocket'),
    { code: 'proxy_forbidden', reason: new RegExp(`forbids CONNECT ${topo!.serverIp.replaceAll('.', '\\.')}:443 \\(403`) },
  );
  t.notOk(
    line(auto, 'session up'),
    'no session: wss:// goes through CONNECT as TLS does, and the agent never sends the session to a forwarding proxy in clear',
  );
});

t.test("squid's default policy (CONNECT to 443 only): auto falls back to WebSocket on 443 through squid", { skip }, async (t) => {
  const squid = await withSquid(t, { connectPorts: [443] });
  const a = await withAgent(t, ['--transport', 'auto', '--ws-url', `wss://${topo!.serverIp}/edge-tunnel/v1/session`]);
  await until('the session', () => tunnel()?.connected === true);
  t.equal(tunnel()?.transport, 'websocket', '/debug/tunnels: websocket');
  await until('the agent says which transport', () => line(a, 'transport chosen: kept for this replica until the agent restarts') !== undefined);
  t.match(line(a, 'transport chosen: kept for this replica until the agent restarts'), {
    transport: 'websocket',
    reason: new RegExp(
      `^TLS to ${topo!.serverIp.replaceAll('.', '\\.')}:10262 failed: the proxy refused CONNECT to the agent port .*403 Forbidden.*; WebSocket to wss://${topo!.serverIp.replaceAll('.', '\\.')}/edge-tunnel/v1/session works$`,
    ),
  });
  t.comment(`agent: ${String(line(a, 'transport chosen: kept for this replica until the agent restarts')?.['reason'])}`);
  const r = sh(topo!.serverNs, ['curl', '-sS', '-m', '5', '-H', `Host: ${topo!.edgeIp}:${KUBELET_RO}`, `http://127.0.0.1:${HTTP}/healthz`]);
  t.equal(r.stdout, 'kubelet-ro /healthz', 'a request through the WebSocket session');
  await stop(a);
  await until("squid's log of the ended tunnel", () => /TCP_TUNNEL\/200 .*CONNECT \S+:443/.test(squid.accessLog()), 5_000).catch(() => {});
  t.match(squid.accessLog(), /TCP_DENIED\/403 .*CONNECT \S+:10262[\s\S]*TCP_TUNNEL\/200 .*CONNECT \S+:443/, 'squid refused 10262, then tunnelled 443');
});
