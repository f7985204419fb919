// Scale-out with real processes: 3 server replicas on loopback behind a round-robin TCP "load
// balancer", 2 real agents. Every agent ends up with a session to every replica; a rolling restart of
// one replica while a client sends requests to the READY replicas fails no request.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKubelet, type KubeletHandle } from '@edge-tunnel/kubelet-emulator';
import { writeLabCerts } from '../src/certs.js';
import { startProcess, type LabProcess } from '../src/processes.js';
import { httpGet, waitFor } from '../src/wait.js';
import { freePort } from './fixtures/lab.js';

const appScript = (pkg: string): string => join(dirname(fileURLToPath(import.meta.resolve(pkg))), 'main.js');
const nodes = [
  { name: 'edge-r1', ip: '127.0.53.1' },
  { name: 'edge-r2', ip: '127.0.53.2' },
];
const dir = await mkdtemp(join(tmpdir(), 'edge-tunnel-replicas-'));
const certs = await writeLabCerts(join(dir, 'pki'), nodes, '127.0.0.1');
const lines: string[] = [];
const log = (line: string): void => void lines.push(line);
const procs: LabProcess[] = [];
const kubelets: KubeletHandle[] = [];
const lbSockets = new Set<Socket>();
t.teardown(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all(kubelets.map((k) => k.close()));
  for (const s of lbSockets) s.destroy();
  lb.close();
  await rm(dir, { recursive: true, force: true });
});

for (const node of nodes) {
  const tls = { cert: certs.kubelet[node.name]!.certPem, key: certs.kubelet[node.name]!.keyPem, ca: certs.caPem };
  kubelets.push(await startKubelet({ nodeName: node.name, host: node.ip, tls }));
}

interface Replica {
  id: string;
  agent: number;
  https: number;
  http: number;
  meta: number;
  proc?: LabProcess;
}
const replicas: Replica[] = [];
for (let i = 1; i <= 3; i++) replicas.push({ id: `r${i}`, agent: await freePort(), https: await freePort(), http: await freePort(), meta: await freePort() });

function startReplica(r: Replica): void {
  const a = (port: number): string => `127.0.0.1:${port}`;
  r.proc = startProcess(
    r.id,
    appScript('@edge-tunnel/server'),
    [
      '--server-id',
      r.id,
      '--agent-addr',
      a(r.agent),
      '--https-addr',
      a(r.https),
      '--http-addr',
      a(r.http),
      '--meta-addr',
      a(r.meta),
      '--cert',
      certs.path('server', 'crt'),
      '--key',
      certs.path('server', 'key'),
      '--agent-ca',
      certs.path('ca', 'crt'),
      '--caller-ca',
      certs.path('ca', 'crt'),
      '--kubelet-client-cert',
      certs.path('kubelet-client', 'crt'),
      '--kubelet-client-key',
      certs.path('kubelet-client', 'key'),
      '--kubelet-ca',
      certs.path('ca', 'crt'),
      ...replicas.flatMap((p) => ['--peer-addr', `${p.id}=${a(p.agent)}`]),
      '--expected-nodes',
      nodes.map((n) => n.name).join(','),
      '--ready-grace-ms',
      '60000',
      '--shutdown-delay-ms',
      '600',
      '--drain-timeout-ms',
      '2000',
      '--keepalive-interval-ms',
      '1000',
    ],
    log,
    false,
  );
  procs.push(r.proc);
}

// the load balancer: round robin over the replicas' agent ports, like a Service without affinity
let next = 0;
const lb = createServer((client) => {
  const r = replicas[next++ % replicas.length]!;
  const up = connect({ host: '127.0.0.1', port: r.agent });
  for (const s of [client, up]) {
    lbSockets.add(s);
    s.on('error', () => (client.destroy(), up.destroy()));
    s.once('close', () => lbSockets.delete(s));
  }
  client.pipe(up).pipe(client);
});
await new Promise<void>((r) => lb.listen(0, '127.0.0.1', r));
const lbPort = (lb.address() as { port: number }).port;

const readyz = async (r: Replica): Promise<boolean> => (await httpGet(`http://127.0.0.1:${r.meta}/readyz`, 300))?.status === 200;
const tunnelsUp = async (r: Replica): Promise<boolean> => {
  const res = await httpGet(`http://127.0.0.1:${r.meta}/debug/tunnels`, 300);
  if (res?.status !== 200) return false;
  const up = (JSON.parse(res.body) as { nodes: Array<{ nodeName: string; connected: boolean }> }).nodes;
  return nodes.every((n) => up.some((u) => u.nodeName === n.name && u.connected));
};

/** One kubelet request through replica `r`'s HTTP proxy; true on a 200. */
function kubeletGet(r: Replica, ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: r.http, path: '/healthz', headers: { host: `${ip}:10255` }, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

t.test('every agent keeps a session to every replica; a rolling restart fails no request', async (t) => {
  for (const r of replicas) startReplica(r);
  for (const node of nodes) {
    procs.push(
      startProcess(
        node.name,
        appScript('@edge-tunnel/agent'),
        [
          '--server',
          `127.0.0.1:${lbPort}`,
          '--node-name',
          node.name,
          '--node-ip',
          node.ip,
          '--cert',
          certs.path(`agent-${node.name}`, 'crt'),
          '--key',
          certs.path(`agent-${node.name}`, 'key'),
          '--ca',
          certs.path('ca', 'crt'),
          '--meta-addr',
          `${node.ip}:10266`,
          '--backoff-base-ms',
          '100',
          '--backoff-max-ms',
          '400',
        ],
        log,
        false,
      ),
    );
  }
  await waitFor('every replica to list both agents', async () => (await Promise.all(replicas.map(tunnelsUp))).every(Boolean), 20_000);
  await waitFor('every replica ready', async () => (await Promise.all(replicas.map(readyz))).every(Boolean), 10_000);
  t.pass('3 replicas × 2 agents: 6 sessions');
  // a load-balancer dial that lands on a replica the agent already has is closed and redialed
  // directly, so the agent's own count can trail the replicas' view for a moment
  const sessions = async (ip: string): Promise<string | undefined> =>
    (await httpGet(`http://${ip}:10266/metrics`))?.body.match(/^edge_tunnel_agent_sessions\{transport="tls"\} (\d+)$/m)?.[1];
  for (const node of nodes) {
    await waitFor(`${node.name} to hold 3 sessions`, async () => (await sessions(node.ip)) === '3', 10_000).catch(() => {});
    t.equal(await sessions(node.ip), '3', `${node.name} has 3 sessions`);
  }

  // the client: requests every 20 ms, round robin over the replicas whose /readyz says 200
  const ready = new Set(replicas);
  let running = true;
  const poller = (async () => {
    while (running) {
      await Promise.all(replicas.map(async (r) => ((await readyz(r)) ? ready.add(r) : ready.delete(r))));
      await sleep(50);
    }
  })();
  let sent = 0;
  const failures: string[] = [];
  const inflight: Array<Promise<void>> = [];
  const client = (async () => {
    for (let i = 0; running; i++) {
      const pool = [...ready];
      if (pool.length > 0) {
        const r = pool[i % pool.length]!;
        const node = nodes[i % nodes.length]!;
        sent += 1;
        inflight.push(kubeletGet(r, node.ip).then((ok) => void (ok || failures.push(`${r.id} → ${node.name}`))));
      }
      await sleep(20);
    }
  })();

  await sleep(1000);
  const victim = replicas[1]!;
  const code = await victim.proc!.stop('SIGTERM', 8000);
  t.equal(code, 0, 'the replica drained and exited cleanly');
  await sleep(300);
  startReplica(victim);
  await waitFor('the restarted replica lists both agents', () => tunnelsUp(victim), 15_000);
  await waitFor('the restarted replica is ready', () => readyz(victim), 10_000);
  await sleep(1000);
  running = false;
  await Promise.all([poller, client]);
  await Promise.all(inflight);
  t.ok(sent > 100, `${sent} requests sent`);
  t.same(failures, [], 'no request failed');
});
