// Port following in cluster mode, from `kubectl apply` on: the fake API server (this process) with N
// edge Nodes, the real server process (apps/server/dist/main.js) in cluster mode with the base
// Deployment's cluster flags (DNS capture, so the leader also keeps the internal Service's ports),
// N following agents in this process (lib/follow-agents.mjs), and the real kubectl applying the
// ConfigMap kube-system/edge-tunnel-server-cfg. Listeners on 127.0.100.1 (fixed ports).
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeApiServer } from '@edge-tunnel/fake-apiserver';
import { agentIdentitiesFast } from './certs.mjs';
import { connectFollowers } from './follow-agents.mjs';

const SERVER_MAIN = fileURLToPath(new URL('../../apps/server/dist/main.js', import.meta.url));
const HOST = '127.0.100.1';
const NS = 'kube-system';
const EDGE = { key: 'alibabacloud.com/is-edge-worker', value: 'true' };
const ipOf = (/** @type {number} */ i) => `10.101.${Math.floor(i / 250)}.${(i % 250) + 1}`; // never dialed: names in certs and Nodes only

const b64 = (/** @type {string} */ s) => Buffer.from(s).toString('base64');
const configMapYaml = (/** @type {Record<string, string>} */ data) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: edge-tunnel-server-cfg\n  namespace: ${NS}\ndata:\n${Object.entries(data)
    .map(([k, v]) => `  ${k}: '${v}'`)
    .join('\n')}\n`;

/** @param {{ dir: string, certs: import('./certs.mjs').Certs, agents: number, progress?: (line: string) => void }} opts */
export async function startClusterFollow({ dir, certs, agents: n, progress = () => {} }) {
  const api = await startFakeApiServer({ host: HOST, bookmarkIntervalMs: 5_000 });
  const kubeconfig = join(dir, 'kubeconfig');
  api.kubeconfig(kubeconfig);
  for (let i = 0; i < n; i++) {
    api.store.put('nodes', {
      metadata: { name: `edge-${i}`, labels: { [EDGE.key]: EDGE.value } },
      status: { addresses: [{ type: 'InternalIP', address: ipOf(i) }] },
    });
  }
  api.store.put('secrets', {
    metadata: { name: 'edge-tunnel-ca', namespace: NS },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(certs.ca.certPem), 'tls.key': b64(certs.ca.keyPem) },
  });
  api.store.put('services', {
    metadata: { name: 'edge-tunnel-server-internal', namespace: NS },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.20',
      ports: [
        { name: 'kubelet-https', port: 10250, targetPort: 'https', protocol: 'TCP' },
        { name: 'kubelet-http', port: 10255, targetPort: 'http', protocol: 'TCP' },
      ],
    },
  });
  api.store.put('configmaps', { metadata: { name: 'edge-tunnel-server-cfg', namespace: NS }, data: { 'dnat-ports-pair': '9051=10264,9052=10264' } });

  const server = spawn(
    process.execPath,
    [
      SERVER_MAIN,
      `--agent-addr=${HOST}:10262`,
      `--https-addr=${HOST}:10263`,
      `--http-addr=${HOST}:10264`,
      `--meta-addr=${HOST}:10265`,
      `--cert=${certs.path('server', 'crt')}`,
      `--key=${certs.path('server', 'key')}`,
      `--agent-ca=${certs.path('ca', 'crt')}`,
      `--caller-ca=${certs.path('ca', 'crt')}`,
      `--kubelet-client-cert=${certs.path('kubelet-client', 'crt')}`,
      `--kubelet-client-key=${certs.path('kubelet-client', 'key')}`,
      '--log-level=warn',
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${NS}`,
      `--edge-node-selector=${EDGE.key}=${EDGE.value}`,
      '--port-configmap=edge-tunnel-server-cfg',
      '--capture=dns',
      '--dns-configmap=edge-tunnel-nodes',
      '--ca-secret=edge-tunnel-ca',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise((resolve) => server.once('exit', resolve));
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${HOST}:10265/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (server.exitCode !== null || i > 600) throw new Error(`server not ready (exit ${server.exitCode})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  progress(`server ready; ${n} agent certificates`);
  const ids = await agentIdentitiesFast(
    certs.ca,
    Array.from({ length: n }, (_, i) => `edge-${i}`),
    ipOf,
  );
  progress(`attaching ${n} agents`);
  const t0 = performance.now();
  const followers = await connectFollowers({
    host: HOST,
    port: 10262,
    ca: certs.caPem,
    n,
    identity: (/** @type {number} */ i) => ({ name: `edge-${i}`, ip: ipOf(i), ...ids[i] }),
  });
  await followers.until((a) => a.rev >= 1);
  const attachMs = performance.now() - t0;

  // an operator's kubectl has its discovery cache: one read fills it before anything is timed
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) =>
      execFile(
        'kubectl',
        ['-n', NS, 'get', 'configmap', 'edge-tunnel-server-cfg'],
        { env: { PATH: process.env.PATH ?? '', HOME: dir, KUBECONFIG: kubeconfig } },
        (err) => (err ? reject(err) : resolve()),
      ),
    )
  );
  const servicePorts = () => {
    const service = /** @type {any} */ (api.store.get('services', NS, 'edge-tunnel-server-internal'));
    return (service?.spec?.ports ?? []).length;
  };
  const env = { PATH: process.env.PATH ?? '', HOME: dir, KUBECONFIG: kubeconfig };
  /**
   * `kubectl apply -f -` of the ConfigMap with `data`; resolves once every agent satisfies `done`,
   * with times from the start of kubectl: kubectl's exit, the last agent, the Service holding
   * `wantServicePorts` ports (DNS mode: the leader's patch).
   * @param {Record<string, string>} data @param {(a: import('./follow-agents.mjs').Follower) => boolean} done @param {number} wantServicePorts
   */
  async function apply(data, done, wantServicePorts) {
    /** @type {number | undefined} */
    let serviceAt;
    const unsubscribe = api.store.subscribe((/** @type {any} */ e) => {
      if (serviceAt === undefined && e.object.metadata?.name === 'edge-tunnel-server-internal' && (e.object.spec?.ports ?? []).length === wantServicePorts)
        serviceAt = performance.now();
    });
    if (servicePorts() === wantServicePorts) serviceAt = -1;
    const started = performance.now();
    const all = followers.until(done);
    /** @type {number} */
    const kubectlMs = await new Promise((resolve, reject) => {
      const child = execFile('kubectl', ['apply', '-f', '-'], { env, maxBuffer: 1 << 20 }, (err, _o, stderr) =>
        err ? reject(new Error(`kubectl apply: ${stderr}`)) : resolve(performance.now() - started),
      );
      child.stdin.end(configMapYaml(data));
    });
    const lastAt = await all;
    for (let i = 0; serviceAt === undefined && i < 300; i++) await new Promise((r) => setTimeout(r, 20));
    unsubscribe();
    return { kubectlMs, allFollowedMs: lastAt - started, serviceMs: serviceAt === undefined ? NaN : serviceAt < 0 ? 0 : serviceAt - started };
  }
  async function close() {
    followers.close();
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
    await api.close();
  }
  /** user + system CPU of the server process so far (/proc, 10 ms ticks) */
  const serverCpuMs = () => {
    const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  return { followers, attachMs, apply, serverCpuMs, close };
}
