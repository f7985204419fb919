// The container image as a user gets it: base images from k8s/image/make-bases.sh, `buildah bud` of
// the root Dockerfile, then edge-tunnel-pki, the server and an agent from the image under podman
// (host network on 127.0.150.x, read-only root, no capabilities, uid 65532), one request through
// them to a sink on the agent's node IP, SIGTERM and the exit codes.
// Rerun: cd tools/image && npx tap test/image.test.ts   (cache: /var/tmp/edge-tunnel-image-cache)
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildImage, commit, imageTag, makeBases, pruneOldLayers } from './fixtures/build.js';
import { runBinary, runOnce, startDetached, waitUntil, type Container } from './fixtures/containers.js';
import { engineEnv, run, skipReason, tail } from './fixtures/engine.js';
import { imageContents } from './fixtures/contents.js';

const SERVER_IP = '127.0.150.1';
const NODE_IP = '127.0.150.2';
const reason = skipReason();

function get(opts: RequestOptions): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => (body += c))
        .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

t.test('the container image', { skip: reason ?? false }, async (t) => {
  const env = engineEnv();

  const revision = commit(); // once: HEAD may move while the build runs
  await pruneOldLayers(env);
  const bases = await makeBases(env);
  if (!t.equal(bases.code, 0, `make-bases.sh builds both base images (${(bases.ms / 1000).toFixed(1)} s)`)) t.comment(tail(bases));
  t.ok(bases.build && bases.runtime, `make-bases.sh printed both references (${bases.build}, ${bases.runtime})`);
  const build = bases.build && bases.runtime ? await buildImage(env, { build: bases.build, runtime: bases.runtime }, revision) : bases;
  if (!t.equal(build.code, 0, `buildah bud of the root Dockerfile (${(build.ms / 1000).toFixed(1)} s)`)) t.comment(tail(build, 40));
  if (bases.code !== 0 || build.code !== 0) return;
  t.comment(`bases ${(bases.ms / 1000).toFixed(1)} s, image build ${(build.ms / 1000).toFixed(1)} s`);

  await t.test('size, user, labels, no build tools', async (t) => {
    const inspect = await run('podman', ['image', 'inspect', imageTag, '--format', '{{.Size}} {{.Config.User}} {{json .Config.Labels}}'], { env });
    const [size, user, ...labels] = inspect.out.trim().split(' ');
    const mb = Number(size) / 1e6;
    t.comment(`image size ${mb.toFixed(1)} MB`);
    t.ok(mb > 20 && mb < 150, `image under 150 MB (${mb.toFixed(1)} MB)`);
    t.equal(user, '65532:65532', 'numeric non-root USER');
    const l = JSON.parse(labels.join(' ')) as Record<string, string>;
    t.equal(l['org.opencontainers.image.revision'], revision, 'OCI revision label is the commit');
    t.equal(l['org.opencontainers.image.version'], '0.1.0', 'OCI version label');
    const contents = await imageContents(env, imageTag);
    t.same(contents.buildTools, [], 'no shell, package manager, compiler or npm in the image');
    t.same(contents.devPackages, [], 'no dev dependencies (typescript, nx, tap) in /app/node_modules');
    t.ok(contents.programs.every(Boolean), 'server, agent and pki programs are in /app');
  });

  await t.test('iptables (nft backend) and conntrack run from the image; DNAT applies with NET_ADMIN', async (t) => {
    const ipt = await runBinary(env, '/usr/sbin/iptables', ['--version']);
    t.match(ipt.out, /^iptables v1\.8\.\d+ \(nf_tables\)/, `iptables --version: ${ipt.out.trim()} ${ipt.err.trim()}`);
    const ct = await runBinary(env, '/usr/sbin/conntrack', ['--version']);
    t.match(ct.out + ct.err, /conntrack v1\.4\.\d+/, 'conntrack --version');
    // a DNAT rule as the capture writes them, in the container's own network namespace (--network=none,
    // never the host's): with NET_ADMIN/NET_RAW it applies, without them nf_tables refuses
    const dnat = ['-t', 'nat', '-A', 'OUTPUT', '-d', '10.0.0.5/32', '-p', 'tcp', '--dport', '10250', '-j', 'DNAT', '--to-destination', '127.0.0.1:10263'];
    const inNetns = (caps: string[]) =>
      run(
        'podman',
        [
          'run',
          '--rm',
          '--network=none',
          '--read-only',
          '--tmpfs',
          '/tmp',
          '--cap-drop=ALL',
          ...caps,
          '--security-opt',
          'no-new-privileges',
          '--user',
          '0',
          '--entrypoint',
          '/usr/sbin/iptables',
          imageTag,
          ...dnat,
        ],
        { env, timeoutMs: 60_000 },
      );
    const withCaps = await inNetns(['--cap-add=NET_ADMIN,NET_RAW']);
    t.equal(withCaps.code, 0, `iptables DNAT with NET_ADMIN/NET_RAW in --network=none ${withCaps.err.trim()}`);
    const without = await inNetns([]);
    t.not(without.code, 0, 'without the capabilities iptables is refused');
    t.match(without.err, /Permission denied/, 'nf_tables says why');
  });

  await t.test('@kubernetes/client-node (minified) loads and serializes in the image', async (t) => {
    const script = [
      "import * as k from '@kubernetes/client-node';",
      "const kc = new k.KubeConfig(); kc.loadFromClusterAndUser({ name: 'c', server: 'https://127.0.0.1:1' }, { name: 'u', token: 't' });",
      "const pod = k.loadYaml('apiVersion: v1\\nkind: Pod\\nmetadata: {name: p}\\nspec: {containers: [{name: c, image: i}]}');",
      "console.log(typeof kc.makeApiClient(k.CoreV1Api).listNode, k.V1Pod.getAttributeTypeMap().map((a) => a.name).join(','), JSON.stringify(pod));",
    ].join(' ');
    const r = await runOnce(env, ['--input-type=module', '-e', script]);
    t.equal(r.code, 0, `node -e import('@kubernetes/client-node')\n${tail(r)}`);
    // the generated models' attribute maps reorder the container's keys (image before name)
    t.equal(
      r.out.trim(),
      'function apiVersion,kind,metadata,spec,status {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"image":"i","name":"c"}]}}',
    );
  });

  const certs = mkdtempSync(join(tmpdir(), 'edge-tunnel-image-certs-'));
  t.teardown(() => rmSync(certs, { recursive: true, force: true }));
  chownSync(certs, 65532, 65532);
  chmodSync(certs, 0o700);
  const pki = await runOnce(
    env,
    ['tools/pki/dist/main.js', 'init', '--out', '/certs', '--server-ip', SERVER_IP, '--node', `edge-a=${NODE_IP}`],
    [`${certs}:/certs`],
  );
  if (!t.equal(pki.code, 0, 'edge-tunnel-pki init from the image')) t.comment(tail(pki));
  t.ok(
    ['ca.crt', 'server.key', 'agent-edge-a.crt'].every((f) => readdirSync(certs).includes(f)),
    'certificates written as uid 65532',
  );
  if (pki.code !== 0) return;

  const sink = createServer((req, res) => res.end(`sink saw ${req.method} ${req.url}`));
  await new Promise<void>((resolve) => sink.listen(10255, NODE_IP, resolve));
  t.teardown(() => void sink.close());

  const mount = [`${certs}:/certs:ro`];
  const containers: Container[] = [];
  t.teardown(async () => {
    for (const c of containers) await c.remove();
  });
  const server = await startDetached(
    env,
    'edge-tunnel-image-test-server',
    [
      'apps/server/dist/main.js',
      '--agent-addr',
      `${SERVER_IP}:10262`,
      '--https-addr',
      `${SERVER_IP}:10263`,
      '--http-addr',
      `${SERVER_IP}:10264`,
      '--meta-addr',
      `${SERVER_IP}:10265`,
      '--cert',
      '/certs/server.crt',
      '--key',
      '/certs/server.key',
      '--agent-ca',
      '/certs/ca.crt',
      '--caller-ca',
      '/certs/ca.crt',
      '--drain-timeout-ms',
      '2000',
    ],
    mount,
  );
  containers.push(server);
  const agent = await startDetached(
    env,
    'edge-tunnel-image-test-agent',
    [
      'apps/agent/dist/main.js',
      '--server',
      `${SERVER_IP}:10262`,
      '--node-name',
      'edge-a',
      '--node-ip',
      NODE_IP,
      '--cert',
      '/certs/agent-edge-a.crt',
      '--key',
      '/certs/agent-edge-a.key',
      '--ca',
      '/certs/ca.crt',
      '--meta-addr',
      `${NODE_IP}:10266`,
      '--drain-timeout-ms',
      '2000',
    ],
    mount,
  );
  containers.push(agent);

  await t.test('a request through the server and the agent', async (t) => {
    const meta = `http://${SERVER_IP}:10265`;
    const attached = async (): Promise<boolean> => {
      const r = await fetch(`${meta}/debug/tunnels`).catch(() => null);
      return r?.ok === true && /"connected":\s*true/.test(await r.text());
    };
    await waitUntil(attached, 'the agent attached', 30_000).catch(async (e: Error) => {
      t.fail(`${e.message}\nserver:\n${await server.logs()}\nagent:\n${await agent.logs()}`);
    });
    const res = await get({ host: SERVER_IP, port: 10264, path: '/pods', headers: { host: `${NODE_IP}:10255` } });
    t.equal(res.status, 200, `proxied through the tunnel (${res.status} ${res.headers['x-tunnel-error'] ?? ''} ${res.body})`);
    t.equal(res.body, 'sink saw GET /pods', 'the sink on the node IP answered');
  });

  await t.test('SIGTERM: both exit 0 within seconds (node is PID 1)', async (t) => {
    for (const c of [agent, server]) {
      const { code, ms } = await c.terminate();
      t.equal(code, 0, `${c.name} exit code after SIGTERM`);
      t.ok(ms < 8000, `${c.name} exited ${ms} ms after SIGTERM (drain timeout 2 s)`);
    }
    t.match(await server.logs(), /server closed/, 'the server logged its drain');
  });
});
