// k8s/base's 2 server replicas as an operator runs them, with no overlay: `kubectl kustomize
// k8s/base`, `kubectl apply` of all of it, both server pods and two edge agents started with the
// rendered containers' command, args and env (the kubelet's part: downward API, volumes, HOSTNAME =
// the pod name; the test also plays the EndpointSlice controller for Service/edge-tunnel-server).
// The load balancer always picks replica 1 (SERVER_ADDR resolves to its pod IP); replica 2 is
// reachable only at its pod IP, i.e. the address it advertises (--advertise-addr=$(POD_IP):10262).
// Replicas do not forward to each other, so the base works only if every agent dials replica 2
// itself: the agents' default replica policy (REPLICA_CIDRS empty) must admit the pod IP. Asserted:
// each replica holds both agents' sessions, no agent refused an address, and a caller's request for
// each node succeeds through either replica (DNS capture path, base ConfigMap port 9051).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { stringify } from 'yaml';
import { startFakeApiServer } from '@edge-tunnel/fake-apiserver';
import { createCa, issueKubeletClientCert, issueServerCert, writePemFiles } from '@edge-tunnel/pki';
import { callerRoute } from './fixtures/dns-capture-path.js';
import { podProcess } from './fixtures/kubelet.js';
import { startInNetns, until, type Proc } from './fixtures/netns-procs.js';
import { createNetnsCluster, netnsMissing } from './fixtures/netns-cluster.js';
import { find, podSpec } from './fixtures/objects.js';
import { K8S_DIR, kubectlMissing, render, TREES } from './fixtures/render.js';

const run = promisify(execFile);
const NS = 'kube-system';
const LB_NAME = 'edge-tunnel.example.invalid'; // the base's SERVER_ADDR host
const PREFIX = 'et-rp'; // namespaces; subnet 10.205.0.0/16
const SUBNET = 205;

const logged = (p: Proc, msg: string): Array<Record<string, unknown>> =>
  p.lines
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    })
    .filter((o) => o['msg'] === msg);

const skip = kubectlMissing() ?? (await netnsMissing());
t.setTimeout(180_000);

t.test("k8s/base's 2 replicas, no overlay: every agent attaches to both, a request succeeds through either", { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'et-base-replicas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rendered = render(TREES.base);
  const deploy = find(rendered, 'Deployment', 'edge-tunnel-server')!;
  const ds = find(rendered, 'DaemonSet', 'edge-tunnel-agent')!;
  t.equal(deploy.spec.replicas, 2, 'the base runs 2 server replicas');
  const cluster = await createNetnsCluster(PREFIX, SUBNET, ['edge-1', 'edge-2'], LB_NAME, deploy.spec.replicas);
  const procs: Proc[] = [];
  t.teardown(async () => {
    for (const p of procs.reverse()) {
      const exited = new Promise((r) => p.child.once('exit', r));
      if (p.child.exitCode === null) p.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
    await cluster.close();
  });
  const api = await startFakeApiServer({ host: cluster.hostIp, bookmarkIntervalMs: 500 });
  t.teardown(() => api.close());
  const kubeconfig = join(dir, 'kubeconfig');
  api.kubeconfig(kubeconfig);
  const env = { PATH: process.env.PATH ?? '', HOME: dir, KUBECONFIG: kubeconfig };

  const ca = await createCa({ commonName: 'cluster-ca' });
  await writePemFiles(dir, 'ca', { certPem: ca.certPem });
  await writePemFiles(
    dir,
    'server',
    await issueServerCert(ca, { dnsNames: [LB_NAME, 'edge-tunnel-server-internal.kube-system.svc'], ips: cluster.pods.map((p) => p.ip) }),
  );
  await writePemFiles(dir, 'kubelet-client', await issueKubeletClientCert(ca));
  const secrets = [...readFileSync(join(K8S_DIR, 'README.md'), 'utf8').matchAll(/^```sh\n([\s\S]*?)^```$/gm)]
    .map((m) => m[1]!)
    .find((b) => b.includes('create secret generic edge-tunnel-bootstrap'));
  await run('sh', ['-ec', secrets!], { cwd: dir, env });
  api.store.put('configmaps', { metadata: { name: 'kube-root-ca.crt', namespace: NS }, data: { 'ca.crt': ca.certPem } });
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
  await new Promise<void>((resolve, reject) => {
    const child = execFile('kubectl', ['apply', '-f', '-'], { env, timeout: 30_000 }, (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve()));
    child.stdin!.end(rendered.map((o) => stringify(o)).join('---\n'));
  });

  // The EndpointSlice controller's part: one endpoint per server pod of Service/edge-tunnel-server.
  const pods = cluster.pods.map((p, k) => ({ ...p, name: `edge-tunnel-server-${k + 1}` }));
  api.store.put('endpointslices', {
    metadata: { name: 'edge-tunnel-server-abcde', namespace: NS, labels: { 'kubernetes.io/service-name': 'edge-tunnel-server' } },
    addressType: 'IPv4',
    ports: [{ name: 'agent', port: 10262, protocol: 'TCP' }],
    endpoints: pods.map((p) => ({
      addresses: [p.ip],
      conditions: { ready: false, serving: false, terminating: false },
      targetRef: { kind: 'Pod', namespace: NS, name: p.name },
    })),
  });
  const servers = pods.map((p) => {
    const proc = podProcess(api, deploy, 'server', { 'status.podIP': p.ip }, join(dir, p.name));
    const s = startInNetns(p.ns, [...proc.argv, `--kubeconfig=${kubeconfig}`], { ...proc.env, HOSTNAME: p.name });
    procs.push(s);
    return s;
  });
  const meta = (ns: string, path: string): Promise<string> =>
    run('ip', ['netns', 'exec', ns, 'curl', '-sS', '-f', `http://127.0.0.1:10265${path}`]).then((r) => r.stdout);
  for (const p of pods) await until(`${p.name} /healthz`, () => meta(p.ns, '/healthz').then(() => true), 30_000);

  const agents = cluster.nodes.map((node) => {
    const echo = `require('node:http').createServer((q,s)=>s.end(\`${node.name} 9051 from \${q.socket.remoteAddress}\`)).listen(9051,'${node.ip}')`;
    procs.push(startInNetns(node.ns, ['node', '-e', echo], {}));
    const agent = podProcess(api, ds, 'agent', { 'spec.nodeName': node.name, 'status.hostIP': node.ip }, join(dir, `agent-${node.name}`));
    const p = startInNetns(node.ns, agent.argv, agent.env);
    procs.push(p);
    return p;
  });
  const connected = async (ns: string): Promise<number> => (JSON.parse(await meta(ns, '/debug/tunnels')) as { connected: number }).connected;
  await until('both agents attached to both replicas', async () => (await connected(pods[0]!.ns)) === 2 && (await connected(pods[1]!.ns)) === 2, 40_000).catch(
    (err: Error) => {
      throw new Error(
        `${err.message}\n${agents.map((a) => a.lines.slice(-6).join('\n')).join('\n')}\n${servers.map((s) => s.lines.slice(-6).join('\n')).join('\n')}`,
      );
    },
  );
  for (const p of pods) t.equal(await connected(p.ns), 2, `${p.name} holds both agents' sessions`);
  for (const [i, a] of agents.entries()) {
    t.match(
      logged(a, 'agent starting')[0],
      { replicaPolicy: '--replica-cidrs unset: private ranges 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7 on port 10262' },
      'the agent says which replica addresses it dials',
    );
    t.same(logged(a, 'replica addresses refused: not dialed'), [], `${cluster.nodes[i]!.name}: no replica address refused (REPLICA_CIDRS empty)`);
    const up = logged(a, 'replica session up').map((l) => `${String(l['via'])} ${String(l['replicaAddr'])}`);
    t.ok(up.includes(`lb ${pods[0]!.ip}:10262`), `${cluster.nodes[i]!.name}: the load balancer session reached replica 1`, { up });
    t.ok(up.includes(`direct ${pods[1]!.ip}:10262`), `${cluster.nodes[i]!.name}: replica 2 dialed at its advertised pod IP`, { up });
  }

  // a caller's request for each node, landing on each replica (kube-proxy may pick either pod)
  const get = (host: string, port: number, node: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      request({ host, port, path: '/', headers: { host: `${node}:9051` } }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolve({ status: res.statusCode!, body }));
      })
        .on('error', reject)
        .end();
    });
  for (const p of pods) {
    for (const node of cluster.nodes) {
      const to = await until(`${node.name}:9051 on the internal Service`, async () => {
        const r = callerRoute(api, deploy, p.ip, node.name, 9051);
        return typeof r === 'string' ? undefined : r;
      });
      t.equal(to.host, p.ip);
      t.same(
        await get(to.host, to.port, node.name),
        { status: 200, body: `${node.name} 9051 from ${node.ip}` },
        `${node.name}:9051 through ${p.name}: 200 from the node's agent`,
      );
    }
  }
});
