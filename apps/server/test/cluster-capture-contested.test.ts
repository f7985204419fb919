// Cluster mode, --capture=iptables with real iptables in a throw-away network namespace (root only):
// an IP listed by two Nodes (two edge Nodes, or an edge Node and a cloud Node) is refused for both
// (ip-claims.ts, the node table's contested IPs) and never appears in the kernel's nat rules, neither
// on the per-port chains nor on the catch-all of other ports; once the conflict ends it is captured.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { createRunner } from '@edge-tunnel/capture';
import t from 'tap';
import { nodeObject, startApi, startClusterServer, until } from './fixtures/cluster.js';
import { meta } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const exec = promisify(execFile);
const A = '10.218.3.5';
const B = '10.218.3.6';
const SHARED = '10.218.3.7'; // edge-b and edge-c
const D = '10.218.3.8';
const CLOUD = '10.218.3.9'; // cloud-1, and edge-d lists it too

async function unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: network namespaces and iptables need root';
  for (const cmd of ['ip', 'iptables-save', 'iptables-restore']) {
    if (
      await exec('sh', ['-c', `command -v ${cmd}`]).then(
        () => false,
        () => true,
      )
    )
      return `${cmd} not installed (Debian packages iproute2, iptables)`;
  }
  return undefined;
}

const skip = await unavailable();
t.setTimeout(120_000);

t.test('an IP listed by two Nodes is not captured by the iptables rules, for either of them', { skip: skip ?? false }, async (t) => {
  const pki = await testPki();
  const ns = `h18-cc-${randomBytes(3).toString('hex')}`;
  await exec('ip', ['netns', 'add', ns]);
  const removeNs = (): void => void execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  process.once('exit', removeNs);
  t.teardown(() => {
    process.off('exit', removeNs);
    removeNs();
  });
  const nat = async (): Promise<string> => (await exec('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'])).stdout;
  const dnatOf = (save: string, ip: string): string[] => save.split('\n').filter((l) => l.includes(`-d ${ip}/32`) && l.includes('-j DNAT'));

  const api = await startApi(t);
  api.api.store.put('nodes', nodeObject('edge-a', [A]));
  api.api.store.put('nodes', nodeObject('edge-b', [B, SHARED]));
  api.api.store.put('nodes', nodeObject('edge-c', [SHARED]));
  api.api.store.put('nodes', nodeObject('edge-d', [D, CLOUD]));
  api.api.store.put('nodes', nodeObject('cloud-1', [CLOUD], {}));
  const server = await startClusterServer(
    t,
    pki,
    api,
    ['--capture', 'iptables', '--iptables-http-target', '10.218.3.1:10264', '--iptables-https-target', '10.218.3.1:10263'],
    { iptablesRunner: createRunner({ netns: ns }) },
  );
  await until(async () => dnatOf(await nat(), D).length > 0, 'rules for the edge nodes applied', 15_000);

  let save = await nat();
  for (const ip of [A, B, D]) {
    t.equal(dnatOf(save, ip).length, 3, `${ip} (claimed once): 10250, 10255 and the other ports`);
  }
  t.notMatch(save, SHARED, `${SHARED}, listed by edge-b and edge-c: in no rule of the nat table`);
  t.notMatch(save, CLOUD, `${CLOUD}, listed by cloud-1 and edge-d: in no rule of the nat table`);
  const cluster = (await meta(server, '/debug/cluster')).json();
  t.same(
    cluster.ipConflicts,
    [
      { ip: SHARED, nodes: ['edge-b', 'edge-c'] },
      { ip: CLOUD, nodes: ['cloud-1', 'edge-d'] },
    ],
    '/debug/cluster lists both conflicts',
  );
  t.notOk(cluster.capture.nodeIps.includes(SHARED) || cluster.capture.nodeIps.includes(CLOUD), '/debug/cluster capture.nodeIps has neither');
  t.ok(
    server.logs.find((l) => l['msg'] === 'node ip conflict: refused for every claimant' && l['nodeIp'] === SHARED),
    'a warn line names the IP',
  );

  // edge-c drops the shared IP: it is edge-b's alone, and captured
  api.api.store.put('nodes', nodeObject('edge-c', ['10.218.3.10']));
  await until(async () => dnatOf(await nat(), SHARED).length === 3, 'the IP captured once the conflict ended', 10_000);
  save = await nat();
  t.notMatch(save, CLOUD, "the cloud node's IP stays out while edge-d lists it");
  t.equal(dnatOf(save, '10.218.3.10').length, 3, "edge-c's new IP is captured");

  await server.handle.close();
  t.notMatch(await nat(), /EDGE-TUNNEL/, 'shutdown removed every rule');
});
