// Runs every `sh` block of k8s/README.md that calls kubectl, unchanged, against the fake API server
// (tools/fake-apiserver) with the real kubectl: the Secrets (protobuf bodies), `apply -k` (OpenAPI
// v3 for server-side validation), `get`, `rollout status`. The blocks are read from the README at run
// time, so an edited command is tested as edited.
import { execFile } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { RESOURCES, startFakeApiServer, type KubeObject } from '@edge-tunnel/fake-apiserver';
import { K8S_DIR, kubectlMissing, rendered, TREES } from './fixtures/render.js';

const run = promisify(execFile);
const README = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');

/** The ```sh blocks that run kubectl against a cluster (not only `kubectl kustomize`). */
export function kubectlBlocks(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  return blocks.filter((b) => /^\s*kubectl\s+(?!kustomize\b)/m.test(b));
}

/** What the Deployment controller would write once every replica is up (kubectl rollout status reads it). */
function rolledOut(d: KubeObject): Record<string, unknown> {
  const replicas = (d.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  return {
    observedGeneration: d.metadata.generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    conditions: [{ type: 'Available', status: 'True' }],
  };
}

t.test('the README commands parse out', async (t) => {
  const blocks = kubectlBlocks(README);
  t.ok(blocks.length >= 2, `${blocks.length} blocks with kubectl commands`);
  t.notMatch(README, /--validate=false/, 'no command needs validation turned off');
  t.same(kubectlBlocks('```sh\nkubectl kustomize x\n```\n```sh\nkubectl get x\n```\n'), ['kubectl get x\n'], 'kustomize-only blocks need no API server');
});

t.test('every kubectl command of k8s/README.md runs unchanged against the fake API server', { skip: kubectlMissing() }, async (t) => {
  const api = await startFakeApiServer();
  t.teardown(() => api.close());
  // The Deployment controller's part: mark each applied Deployment as rolled out.
  api.store.subscribe((event) => {
    if (event.object.kind !== 'Deployment' || event.type === 'DELETED') return;
    const want = rolledOut(event.object);
    if (JSON.stringify(event.object.status) !== JSON.stringify(want)) queueMicrotask(() => api.store.put('deployments', { ...event.object, status: want }));
  });
  const dir = t.testdir();
  symlinkSync(K8S_DIR, join(dir, 'k8s')); // the README's paths are relative to the repository root
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: join(dir, 'kubeconfig') };
  api.kubeconfig(env.KUBECONFIG);
  const openssl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir, env });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=edge-tunnel-ca', '-days', '1');
  for (const name of ['server', 'kubelet-client']) {
    await openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-out', `${name}.crt`, '-days', '1');
  }
  for (const block of kubectlBlocks(README)) {
    const first = block.split('\n').find((l) => l.startsWith('kubectl'))!;
    const result = await run('sh', ['-ec', block], { cwd: dir, env, timeout: 60_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    t.equal(result.code, 0, `block starting \`${first}\` exits 0 ${result.stderr}`);
  }
  const secret = (name: string): Record<string, string> => (api.store.get('secrets', 'kube-system', name)?.data ?? {}) as Record<string, string>;
  t.same(Object.keys(secret('edge-tunnel-bootstrap')).sort(), ['ca.crt', 'expiration', 'max-uses', 'token']);
  t.ok(
    Date.parse(Buffer.from(secret('edge-tunnel-bootstrap').expiration ?? '', 'base64').toString()) > Date.now(),
    'the expiration is an RFC 3339 time in the future',
  );
  t.match(Buffer.from(secret('edge-tunnel-bootstrap').token ?? '', 'base64').toString(), /^[0-9a-f]{64}$/, 'the token is the openssl rand output');
  t.same(Object.keys(secret('edge-tunnel-server-tls')).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  t.equal(api.store.get('secrets', 'kube-system', 'edge-tunnel-kubelet-client')?.type, 'kubernetes.io/tls');
  const objs = rendered(TREES['overlays/example']);
  const stored = objs.filter((o) => {
    const def = RESOURCES.find((r) => r.kind === o.kind);
    return def !== undefined && api.store.get(def.name, o.metadata.namespace, o.metadata.name ?? '') !== undefined;
  });
  t.equal(stored.length, objs.length, `all ${objs.length} objects of overlays/example were applied`);
  t.ok(
    api.requests.some((r) => r.method === 'POST' && r.query.fieldValidation === 'Strict'),
    'kubectl left validation to the server',
  );
});
