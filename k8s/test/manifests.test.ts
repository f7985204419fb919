// Renders k8s/base and k8s/overlays/example with kubectl and holds every object to the checks in
// fixtures/checks.ts, plus the facts that differ between the two trees. Then proves that every check
// can fail (fixtures/cases.ts: one broken thing per case), and tests the helpers the checks rely on.
import t from 'tap';
import { CASES } from './fixtures/cases.js';
import { CHECKS, runChecks } from './fixtures/checks.js';
import { NAMES } from './fixtures/kinds.js';
import { clone, containersOf, find, flagsOf, parsePortList, podSpec, portOf, quantity, varRefs, type Obj } from './fixtures/objects.js';
import { kubectlMissing, parseYaml, rendered, TREES } from './fixtures/render.js';

const skip = kubectlMissing();

for (const [tree, dir] of Object.entries(TREES)) {
  t.test(`${tree} renders and passes every check`, { skip }, async (t) => {
    const objs = rendered(dir);
    t.ok(objs.length > 0, `${objs.length} objects rendered`);
    for (const [name, check] of Object.entries(CHECKS)) t.same(check(objs), [], name);
  });
}

const serverOf = (objs: Obj[]): Obj => find(objs, 'Deployment', NAMES.server)!;
const serverFlags = (objs: Obj[]): Map<string, string> => flagsOf(containersOf(serverOf(objs))[0]);

t.test('base: DNS capture, 2 replicas, the product image', { skip }, async (t) => {
  const objs = rendered(TREES.base);
  t.equal(serverFlags(objs).get('capture'), 'dns');
  t.equal(serverOf(objs).spec.replicas, 2);
  t.notOk(podSpec(serverOf(objs)).hostNetwork, 'the server stays off the host network');
  t.equal(containersOf(serverOf(objs))[0].image, 'edge-tunnel:0.1.0');
  t.same(
    objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    [
      'ClusterRole/edge-tunnel-server',
      'ClusterRoleBinding/edge-tunnel-server',
      'ConfigMap/edge-tunnel-server-cfg',
      'DaemonSet/edge-tunnel-agent',
      'Deployment/edge-tunnel-server',
      'PodDisruptionBudget/edge-tunnel-server',
      'Role/edge-tunnel-server',
      'RoleBinding/edge-tunnel-server',
      'Service/edge-tunnel-server',
      'Service/edge-tunnel-server-internal',
      'Service/edge-tunnel-server-metrics',
      'ServiceAccount/edge-tunnel-agent',
      'ServiceAccount/edge-tunnel-server',
    ],
    'exactly the documented objects',
  );
});

t.test('overlays/example: iptables capture, 3 replicas, port 9100, registry image', { skip }, async (t) => {
  const objs = rendered(TREES['overlays/example']);
  const server = serverOf(objs);
  t.equal(serverFlags(objs).get('capture'), 'iptables');
  t.equal(server.spec.replicas, 3);
  t.equal(podSpec(server).hostNetwork, true);
  t.ok(containersOf(server)[0].securityContext.capabilities.add.includes('NET_ADMIN'));
  t.match(containersOf(server)[0].image, /^registry\.example\.com\/edge-tunnel:0\.1\.0$/);
  t.match(find(objs, 'ConfigMap', NAMES.portConfigMap)!.data['dnat-ports-pair'], /(^|,)9100=10264(,|$)/);
  t.ok(find(objs, 'Service', NAMES.internalSvc)!.spec.ports.some((p: { port: number }) => p.port === 9100));
  const agent = containersOf(find(objs, 'DaemonSet', NAMES.agent)!)[0];
  t.equal(flagsOf(agent).get('server'), 'tunnel.example.com:10262');
});

// mutations: every check can fail
t.test('the untouched trees pass (baseline of the mutations)', { skip }, async (t) => {
  for (const dir of Object.values(TREES)) t.same(runChecks(rendered(dir)), [], dir);
});

for (const c of CASES) {
  t.test(`${c.check} catches: ${c.what}`, { skip }, async (t) => {
    const objs = clone(rendered(TREES[c.tree ?? 'base']));
    c.mutate(objs);
    const found = CHECKS[c.check]!(objs);
    t.ok(
      found.some((p) => c.expect.test(p)),
      `${c.check} reports ${c.expect}`,
      { found },
    );
  });
}

t.test('every check has at least one case that makes it fail', async (t) => {
  const covered = new Set(CASES.map((c) => c.check));
  t.same(
    Object.keys(CHECKS).filter((name) => !covered.has(name)),
    [],
  );
});

// helpers
t.test('flagsOf expands $(VAR) from env and accepts --x=v, --x v and bare --x', async (t) => {
  const c = {
    command: ['node'],
    args: ['main.js', '--a=1', '--b', '2', '--flag', '--name=$(NODE_NAME)', '--x=$(LIT)', '--y=$(UNSET)'],
    env: [
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'LIT', value: 'v' },
    ],
  };
  const f = flagsOf(c);
  t.same(Object.fromEntries(f), { a: '1', b: '2', flag: 'true', name: 'fieldRef:spec.nodeName', x: 'v', y: '$(UNSET)' });
  t.same(varRefs('--a=$(A) --b=$(B_2) $(bad-name)'), ['A', 'B_2']);
});

t.test('parsePortList', async (t) => {
  t.same(parsePortList(''), []);
  t.same(parsePortList('9100, 9051-9053'), [9100, 9051, 9052, 9053]);
  t.match(parsePortList('0'), /bad port entry/);
  t.match(parsePortList('9-7'), /bad port entry/);
  t.match(parsePortList('http'), /bad port entry/);
});

t.test('portOf and quantity', async (t) => {
  t.equal(portOf(':10262'), 10262);
  t.equal(portOf('0.0.0.0:10265'), 10265);
  t.ok(Number.isNaN(portOf('host')));
  t.equal(quantity('100m'), 0.1);
  t.equal(quantity('2'), 2);
  t.equal(quantity('128Mi'), 128 * 2 ** 20);
  t.ok(Number.isNaN(quantity(undefined)));
  t.ok(Number.isNaN(quantity('1 GB')));
});

t.test('parseYaml reads multi-document YAML, skips empty documents, rejects broken YAML', async (t) => {
  const objs = parseYaml('---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n');
  t.same(
    objs.map((o) => o.kind),
    ['ConfigMap', 'Service'],
  );
  t.throws(() => parseYaml('a: [1\n'), /YAML/);
});
