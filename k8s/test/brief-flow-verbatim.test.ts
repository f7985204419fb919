// The brief's flow, verbatim, as an operator runs it in cluster mode: `kubectl kustomize k8s/base`
// renders the manifests; the server runs with the rendered Deployment container's command, args and
// env, the agents with the rendered DaemonSet's (downward API filled in as the kubelet does, volumes
// materialized from the Secrets the README's own commands create), enrolled by the bootstrap token.
// Only what cannot run here is substituted: the in-cluster service account (→ `--kubeconfig` of the
// fake API server) and mount paths (→ one directory per volume). Each pod gets a network namespace,
// so `:10262`, `0.0.0.0:10265` and `127.0.0.1:10266` bind as rendered. Then the three `kubectl apply`
// blocks of k8s/README.md ("Opening a port"), run as written: the brief's ConfigMap opens 9051 and
// 9052 on every node, the second adds 9053 live (timed; no agent restart), the third removes 9052
// (403 PORT_NOT_CONFIGURED). Callers take the DNS
// capture path: the server's hosts file, the internal Service's ports (kept by the server), :10264.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { stringify } from 'yaml';
import { startFakeApiServer, type FakeApiServer } from '@edge-tunnel/fake-apiserver';
import { createCa, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { callerRoute, type CallerRoute } from './fixtures/dns-capture-path.js';
import { podProcess } from './fixtures/kubelet.js';
import { startInNetns, until, type Proc } from './fixtures/netns-procs.js';
import { createNetnsCluster, netnsMissing } from './fixtures/netns-cluster.js';
import { find, podSpec } from './fixtures/objects.js';
import { K8S_DIR, kubectlMissing, render, TREES } from './fixtures/render.js';

const run = promisify(execFile);
const NS = 'kube-system';
const LB_NAME = 'edge-tunnel.example.invalid'; // the base's SERVER_ADDR host, resolved in the edge namespaces
// The brief's ConfigMap text; k8s/README.md ("Opening a port") applies it, then two edits of its value.
const FLOW = ['9051=10264,9052=10264', '9051=10264,9052=10264,9053=10264', '9051=10264,9053=10264'];
const brief = (ports: string): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: edge-tunnel-server-cfg
  namespace: kube-system
data:
  dnat-ports-pair: '${ports}'
`;

const kubectl = (env: Record<string, string>, args: string[], stdin?: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = execFile('kubectl', args, { env, timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
    );
    child.stdin!.end(stdin ?? '');
  });

/** The README's `kubectl apply -f -` blocks of edge-tunnel-server-cfg, in order. */
const README = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
const shBlocks = [...README.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const flowBlocks = shBlocks.filter((b) => b.startsWith('kubectl apply -f -') && b.includes('name: edge-tunnel-server-cfg'));

t.test("k8s/README.md's port blocks are the brief's ConfigMap, verbatim, with the flow's values", async (t) => {
  t.same(
    flowBlocks,
    FLOW.map((v) => `kubectl apply -f - <<'EOF'\n${brief(v)}EOF\n`),
  );
  t.ok(
    readFileSync(join(K8S_DIR, '..', 'README.md'), 'utf8').includes(`\`\`\`sh\n${flowBlocks[0]}\`\`\``),
    'the root README shows the first of them, as written',
  );
});

const skip = kubectlMissing() ?? (await netnsMissing());
t.setTimeout(180_000);

t.test("the brief's flow with the rendered manifests' args, the real kubectl, live port changes", { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'et-brief-flow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cluster = await createNetnsCluster('et-bf', 100, ['edge-1', 'edge-2'], LB_NAME);
  const procs: Proc[] = [];
  t.teardown(async () => {
    // every process first (a namespace outlives `ip netns del` while a process is inside it)
    for (const p of procs.reverse()) {
      const exited = new Promise((r) => p.child.once('exit', r));
      if (p.child.exitCode === null) p.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
    await cluster.close();
  });
  const api: FakeApiServer = await startFakeApiServer({ host: cluster.hostIp, bookmarkIntervalMs: 500 });
  t.teardown(() => api.close());
  const kubeconfig = join(dir, 'kubeconfig');
  api.kubeconfig(kubeconfig);
  const env = { PATH: process.env.PATH ?? '', HOME: dir, KUBECONFIG: kubeconfig };

  // The operator's prerequisites: certificates, then the Secrets block of k8s/README.md as written.
  const ca = await createCa({ commonName: 'cluster-ca' });
  await writePemFiles(dir, 'ca', { certPem: ca.certPem });
  await writePemFiles(dir, 'server', await issueServerCert(ca, { dnsNames: [LB_NAME, 'edge-tunnel-server-internal.kube-system.svc'], ips: [cluster.podIp] }));
  await writePemFiles(dir, 'kubelet-client', await issueKubeletClientCert(ca));
  const secrets = shBlocks.find((b) => b.includes('create secret generic edge-tunnel-bootstrap'));
  t.ok(secrets, 'k8s/README.md has the Secrets block');
  await run('sh', ['-ec', secrets!], { cwd: dir, env });
  // What the cluster has before the operator arrives: kube-root-ca.crt, and the edge Nodes the kubelets registered.
  api.store.put('configmaps', { metadata: { name: 'kube-root-ca.crt', namespace: NS }, data: { 'ca.crt': ca.certPem } });
  const rendered = render(TREES.base);
  const ds = find(rendered, 'DaemonSet', 'edge-tunnel-agent')!;
  for (const node of cluster.nodes) {
    api.store.put('nodes', {
      metadata: { name: node.name, labels: { ...podSpec(ds).nodeSelector, 'kubernetes.io/hostname': node.name } },
      status: {
        addresses: [
          { type: 'InternalIP', address: node.ip },
          { type: 'Hostname', address: node.name },
        ],
      },
    });
  }

  // `kubectl apply` of the rendered base, without its port ConfigMap: the brief's apply brings it.
  const readmeBlock = async (i: number): Promise<void> => void (await run('sh', ['-ec', flowBlocks[i]!], { cwd: dir, env }));
  const isPortCfg = (o: { kind: string; metadata: { name?: string } }): boolean => o.kind === 'ConfigMap' && o.metadata.name === 'edge-tunnel-server-cfg';
  await kubectl(
    env,
    ['apply', '-f', '-'],
    rendered
      .filter((o) => !isPortCfg(o))
      .map((o) => stringify(o))
      .join('---\n'),
  );

  // The server pod, as the kubelet runs it.
  const deploy = find(rendered, 'Deployment', 'edge-tunnel-server')!;
  const server = podProcess(api, deploy, 'server', { 'status.podIP': cluster.podIp }, join(dir, 'server-pod'));
  t.notOk(
    server.argv.some((a) => a.startsWith('--kubeconfig')),
    'the manifests use the in-cluster service account',
  );
  procs.push(startInNetns(cluster.podNs, [...server.argv, `--kubeconfig=${kubeconfig}`], server.env, 'server'));
  const meta = (path: string): Promise<string> =>
    run('ip', ['netns', 'exec', cluster.podNs, 'curl', '-sS', '-f', `http://127.0.0.1:10265${path}`]).then((r) => r.stdout);
  await until('server /readyz', () => meta('/readyz').then(() => true), 30_000);

  // Each edge node: its services on the node IP, and the agent pod as the kubelet runs it.
  const agents: Proc[] = [];
  for (const node of cluster.nodes) {
    const echo = `const http=require('node:http');for(const p of [9051,9052,9053])http.createServer((q,s)=>s.end(\`${node.name} \${p} from \${q.socket.remoteAddress}\`)).listen(p,'${node.ip}')`;
    procs.push(startInNetns(node.ns, ['node', '-e', echo], {}, `${node.name} services`));
    const agent = podProcess(api, ds, 'agent', { 'spec.nodeName': node.name, 'status.hostIP': node.ip }, join(dir, `agent-${node.name}`));
    const p = startInNetns(node.ns, agent.argv, agent.env, `agent ${node.name}`);
    procs.push(p);
    agents.push(p);
  }
  const connected = async (): Promise<number> => (JSON.parse(await meta('/debug/tunnels')) as { connected: number }).connected;
  await until('both agents enrolled and attached', async () => (await connected()) === 2, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${agents.map((a) => a.lines.slice(-5).join('\n')).join('\n')}\n${procs[0]!.lines.slice(-10).join('\n')}`);
  });
  t.ok(api.store.get('configmaps', NS, 'edge-tunnel-enrollments'), 'the agents enrolled with the bootstrap token (records written)');

  // The caller's side, as DNS capture lands it: <node>:<port> resolves through the server's hosts
  // file to the internal Service, whose port kube-proxy sends to targetPort http (10264) on the server
  // pod; the Host header keeps naming <node>:<port>, which is how the server picks node and port.
  const route = (node: string, port: number): CallerRoute => {
    const r = callerRoute(api, deploy, cluster.podIp, node, port);
    if (typeof r === 'string') throw new Error(r);
    return r;
  };
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => keepAlive.destroy());
  const get = (node: string, port: number, to: CallerRoute = route(node, port)): Promise<{ status: number; error?: string; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: to.host, port: to.port, path: '/', headers: { host: `${node}:${port}` }, agent: keepAlive }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolve({ status: res.statusCode!, error: res.headers['x-tunnel-error'] as string | undefined, body }));
      });
      req.on('error', reject).end();
    });
  const curl = async (node: string, port: number): Promise<string[]> => {
    const url = `http://${node}:${port}/`;
    const to = route(node, port);
    const r = await run('curl', ['-sS', '--connect-to', `${node}:${port}:${to.host}:${to.port}`, '-w', ' |%{http_code} %{num_connects}\n', url, url], { env });
    return r.stdout.trim().split('\n');
  };
  const channel = await until('the hosts file and the internal Service', async () => route('edge-1', 10255));
  t.equal(channel.port, 10264, 'edge-1:10255 lands on the HTTP channel of the server pod');
  t.equal(
    channel.clusterIp,
    (api.store.get('services', NS, 'edge-tunnel-server-internal')?.spec as { clusterIP?: string } | undefined)?.clusterIP,
    'through the internal Service',
  );
  t.match(await get('edge-1', 9051, channel), { status: 403, error: 'PORT_NOT_CONFIGURED' }, 'before the ConfigMap: 9051 is not configured');

  await readmeBlock(0);
  await until('9051 and 9052 open', async () => (await get('edge-2', 9051)).status === 200 && (await get('edge-2', 9052)).status === 200);
  for (const node of cluster.nodes) {
    for (const port of [9051, 9052]) {
      t.same(
        await curl(node.name, port),
        [`${node.name} ${port} from ${node.ip} |200 1`, `${node.name} ${port} from ${node.ip} |200 0`],
        `keep-alive curl to ${node.name}:${port}: two answers on one connection, dialed by the agent on the node (source ${node.ip})`,
      );
    }
  }

  const pids = agents.map((a) => a.child.pid);
  const changed = performance.now();
  await readmeBlock(1);
  for (const node of cluster.nodes) await until(`9053 on ${node.name}`, async () => (await get(node.name, 9053)).status === 200);
  const liveMs = performance.now() - changed;
  t.comment(`9053 live on both nodes ${Math.round(liveMs)} ms after \`kubectl apply\` started (Service port added by the server, agents told)`);
  t.ok(liveMs < 10_000, `9053 live without a DaemonSet edit (${Math.round(liveMs)} ms; gross bound 10 s)`);
  for (const node of cluster.nodes)
    t.same(
      await curl(node.name, 9053),
      [`${node.name} 9053 from ${node.ip} |200 1`, `${node.name} 9053 from ${node.ip} |200 0`],
      `keep-alive curl to ${node.name}:9053`,
    );
  t.same(
    agents.map((a) => (a.child.exitCode === null ? a.child.pid : 'exited')),
    pids,
    'no agent restarted',
  );
  for (const a of agents)
    t.ok(
      a.lines.some((l) => l.includes('server port config applied') && l.includes('9051-9053')),
      'each agent logged the ports it now allows',
    );

  await readmeBlock(2);
  await until('9052 gone from the internal Service', async () => typeof callerRoute(api, deploy, cluster.podIp, 'edge-1', 9052) === 'string');
  t.match(
    callerRoute(api, deploy, cluster.podIp, 'edge-1', 9052),
    /has no port 9052: kube-proxy rejects/,
    'a new caller of 9052 is turned away by the Service',
  );
  for (const node of cluster.nodes) {
    // a caller still holding a connection to the channel (or a stale proxy rule) reaches the server: refused
    t.match(await get(node.name, 9052, channel), { status: 403, error: 'PORT_NOT_CONFIGURED' }, `${node.name}:9052 refused once removed`);
    t.equal((await get(node.name, 9053)).status, 200, 'the remaining ports stay open');
    t.equal((await get(node.name, 9051)).status, 200);
  }
  writeFileSync(join(dir, 'done'), '');
});
