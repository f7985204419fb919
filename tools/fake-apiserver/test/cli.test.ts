// The CLI (src/main.ts): flag parsing and seeding (pure), then as a real process: seeded objects,
// the kubelet proxy dialling nodeIP:port directly with the kubelet-client certificate, the kubeconfig,
// the request log, SIGTERM → exit 0, and a bad flag → exit 2 with a sentence.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseCli } from '../src/cli-options.js';
import { seedStore } from '../src/seed.js';
import { ObjectStore } from '../src/store.js';
import { certs, fakeKubelet } from './fixtures/stand-in-kubelet.js';

const BAD = { code: 'ERR_FAKE_APISERVER_BAD_OPTIONS' };

t.test('flags', async (t) => {
  t.same(parseCli([]), {
    host: '127.0.0.1',
    port: 0,
    seedFile: undefined,
    kubeconfigFile: undefined,
    requestLogFile: undefined,
    authFile: undefined,
    kubelet: undefined,
  });
  t.match(parseCli(['--auth', 'a.json']), { authFile: 'a.json' });
  t.match(parseCli(['--listen', '[::1]:6443', '--kubelet-client-cert', 'c', '--kubelet-client-key', 'k', '--kubelet-ca', 'ca']), {
    host: '::1',
    port: 6443,
    kubelet: { certFile: 'c', keyFile: 'k', caFile: 'ca' },
  });
  t.equal(parseCli(['--help']), 'help');
  t.throws(() => parseCli(['--listen', '127.0.0.1']), { ...BAD, message: /--listen "127\.0\.0\.1" is not HOST:PORT/ });
  t.throws(() => parseCli(['--listen', 'h:70000']), BAD);
  t.throws(() => parseCli(['--kubelet-client-cert', 'c']), { ...BAD, message: /go together/ });
  t.throws(() => parseCli(['--kubelet-ca', 'ca']), BAD);
  t.throws(() => parseCli(['--bogus']), { ...BAD, message: /Unknown option '--bogus'/ });
});

t.test('seed documents', async (t) => {
  const store = new ObjectStore();
  t.equal(seedStore(store, { nodes: [{ metadata: { name: 'n1' } }], pods: [{ metadata: { name: 'p', namespace: 'x' } }] }, 'f'), 2);
  t.ok(store.get('pods', 'x', 'p'), 'the pod is in its namespace');
  t.throws(() => seedStore(store, [], 'f'), { ...BAD, message: /^f: expected a JSON object/ });
  t.throws(() => seedStore(store, { nodes: {} }, 'f'), { ...BAD, message: '"nodes" must be an array' });
  t.throws(() => seedStore(store, { widgets: [{ metadata: { name: 'w' } }] }, 'f'), { ...BAD, message: /^f: widgets\[0\]: / });
});

const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));
/** The CLI from source, through the TypeScript loader tap runs this file with. */
function cli(args: string[]) {
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const child = spawn(process.execPath, [...loader, mainTs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, out: () => out, err: () => err, exited };
}

t.test('the CLI process', async (t) => {
  const dir = t.testdir();
  const tls = certs(dir);
  const kubelet = await fakeKubelet(t, tls);
  const closedPort = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
  const node = (name: string, port: number) => ({
    metadata: { name },
    status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } },
  });
  const pod = (name: string, nodeName: string) => ({ metadata: { name, namespace: 'default' }, spec: { nodeName, containers: [{ name: 'app' }] } });
  writeFileSync(
    join(dir, 'seed.json'),
    JSON.stringify({ nodes: [node('edge-1', kubelet.port), node('gone', closedPort)], pods: [pod('demo', 'edge-1'), pod('orphan', 'gone')] }),
  );
  writeFileSync(
    join(dir, 'auth.json'),
    JSON.stringify({ tokens: { tok: { username: 'metrics-server' } }, rules: [{ users: ['metrics-server'], verbs: ['get'], resources: ['nodes/metrics'] }] }),
  );
  const p = cli([
    '--seed',
    join(dir, 'seed.json'),
    '--auth',
    join(dir, 'auth.json'),
    '--kubeconfig',
    join(dir, 'kubeconfig'),
    '--request-log',
    join(dir, 'requests.jsonl'),
    '--kubelet-client-cert',
    join(dir, 'k.crt'),
    '--kubelet-client-key',
    join(dir, 'k.key'),
    '--kubelet-ca',
    join(dir, 'k.crt'),
  ]);
  t.teardown(() => void p.child.kill('SIGKILL'));
  const deadline = Date.now() + 30_000;
  while (!p.out().includes('\n') && Date.now() < deadline && p.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const started = JSON.parse(p.out().split('\n')[0]!) as { msg: string; url: string; objects: number };
  t.match(started, { msg: 'fake apiserver listening', url: /^http:\/\/127\.0\.0\.1:\d+$/, objects: 4, kubeletProxy: 'direct' }, p.err());
  t.match(readFileSync(join(dir, 'kubeconfig'), 'utf8'), `server: "${started.url}"`, 'the kubeconfig names the listening URL');

  const res = await fetch(`${started.url}/api/v1/namespaces/default/pods/demo/log?container=app&tailLines=2`);
  t.equal(await res.text(), 'line 1\nline 2\n', 'the log came from the kubelet');
  t.match(
    kubelet.seen.at(-1),
    { path: '/containerLogs/default/demo/app?tailLines=2', clientCn: 'kube-apiserver-kubelet-client' },
    'dialled nodeIP:kubeletPort directly, with the kubelet-client certificate',
  );
  const logged = readFileSync(join(dir, 'requests.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);
  t.same(logged.at(-1), { method: 'GET', path: '/api/v1/namespaces/default/pods/demo/log', query: { container: 'app', tailLines: '2' } }, 'request log');

  const refused = await fetch(`${started.url}/api/v1/namespaces/default/pods/orphan/log?container=app`);
  t.match(
    { status: refused.status, body: await refused.json() },
    { status: 500, body: { reason: 'InternalError', message: `error dialing backend: connect ECONNREFUSED 127.0.0.1:${closedPort}` } },
    'a refused dial is a dial error, as kube-apiserver reports it',
  );

  const review = (path: string, spec: object) =>
    fetch(`${started.url}/apis/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spec }) }).then((r) =>
      r.json(),
    ) as Promise<{ status: Record<string, unknown> }>;
  t.match(
    (await review('authentication.k8s.io/v1/tokenreviews', { token: 'tok' })).status,
    { authenticated: true, user: { username: 'metrics-server' } },
    '--auth: its tokens',
  );
  t.match(
    (
      await review('authorization.k8s.io/v1/subjectaccessreviews', {
        user: 'metrics-server',
        resourceAttributes: { verb: 'get', resource: 'nodes', subresource: 'metrics', name: 'edge-1' },
      })
    ).status,
    { allowed: true },
    '--auth: its rules',
  );

  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0, 'SIGTERM: exit 0');
});

t.test('a bad flag: exit 2 and the reason on stderr', async (t) => {
  const p = cli(['--seed', '/nonexistent/seed.json']);
  t.equal(await p.exited, 2);
  t.match(p.err(), /^fake-apiserver: --seed \/nonexistent\/seed\.json: ENOENT/);
  const dir = t.testdir({ 'auth.json': '[1]' });
  const bad = cli(['--auth', join(dir, 'auth.json')]);
  t.equal(await bad.exited, 2);
  t.match(bad.err(), /--auth .*auth\.json: expected \{"tokens": \{…\}, "rules": \[…\]\}/);
});
