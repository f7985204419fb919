// Standalone --capture iptables with real iptables in a throw-away network namespace (root only): the
// server's capture runs iptables-save/-restore inside it. --edge-node-ip is captured from the start,
// an attaching agent adds its certificate IPs, a port added to the --config file is captured live, a
// deleted hook jump comes back within --iptables-resync-ms, a node whose agent left stays captured,
// and shutdown removes every rule.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRunner } from '@edge-tunnel/capture';
import t from 'tap';
import { CAPTURE_DEBOUNCE_MS } from '../src/capture/standalone.js';
import { connectAgent, meta, sleep, startServer, until, waitAttached } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const exec = promisify(execFile);
const FLAGGED = '10.251.9.2';
const AGENT_IP = '10.251.7.2';
const HTTP_TARGET = '10.250.0.2:10264';

async function unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: network namespaces and iptables need root';
  for (const cmd of ['ip', 'iptables', 'iptables-save', 'iptables-restore']) {
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
const pki = await testPki();

t.test('standalone --capture iptables: flagged and attached node IPs, live ports, drift repair, rules gone on shutdown', { skip: skip ?? false }, async (t) => {
  const ns = `et-srv-${process.pid}-${randomBytes(3).toString('hex')}`;
  await exec('ip', ['netns', 'add', ns]);
  // even on failure or a killed run: the rules live in the namespace and go with it
  const removeNs = (): void => void execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  process.once('exit', removeNs);
  t.teardown(async () => {
    process.off('exit', removeNs);
    await exec('ip', ['netns', 'del', ns]);
  });
  const dir = await mkdtemp(join(tmpdir(), 'edge-tunnel-capture-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'ports.yaml');
  await writeFile(configPath, '{}\n');
  const nat = async (): Promise<string> => (await exec('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'])).stdout;
  const rule = (port: number, ip: string, target: string): RegExp =>
    new RegExp(
      `^-A EDGE-TUNNEL-PORT-${port} -d ${ip.replaceAll('.', '\\.')}/32 -p tcp .*--dport ${port} .*-j DNAT --to-destination ${target.replaceAll('.', '\\.')}$`,
      'm',
    );

  const server = await startServer(
    t,
    pki,
    [
      '--capture',
      'iptables',
      '--edge-node-ip',
      FLAGGED,
      '--iptables-http-target',
      HTTP_TARGET,
      '--iptables-resync-ms',
      '300',
      '--config',
      configPath,
      '--config-poll-ms',
      '200',
    ],
    {},
    { iptablesRunner: createRunner({ netns: ns }) },
  );
  const httpsTarget = `127.0.0.1:${server.addr.https.port}`;
  await until(async () => rule(10255, FLAGGED, HTTP_TARGET).test(await nat()), '--edge-node-ip captured');
  let save = await nat();
  t.match(save, rule(10250, FLAGGED, httpsTarget), 'HTTPS target: the bound HTTPS listener');
  t.match(save, /^-A OUTPUT .*-j EDGE-TUNNEL-OUTPUT$/m, 'the OUTPUT hook jump');
  t.notMatch(save, AGENT_IP, 'no agent yet, nothing else captured');

  const agent = await connectAgent(t, pki, server, 'edge-n', [AGENT_IP]);
  await waitAttached(server, 'edge-n', agent);
  await until(async () => rule(10255, AGENT_IP, HTTP_TARGET).test(await nat()), 'the attached node captured');
  t.match(await nat(), rule(10250, AGENT_IP, httpsTarget), 'both built-in ports of the attached node');

  await writeFile(`${configPath}.tmp`, "dnat-ports-pair: '9100=10264'\n");
  await rename(`${configPath}.tmp`, configPath);
  await until(async () => rule(9100, AGENT_IP, HTTP_TARGET).test(await nat()), 'a port added to the config file captured live');
  t.match(await nat(), rule(9100, FLAGGED, HTTP_TARGET), 'for the flagged node too');

  await exec('ip', [
    'netns',
    'exec',
    ns,
    'iptables',
    '-t',
    'nat',
    '-D',
    'OUTPUT',
    '-m',
    'comment',
    '--comment',
    'edge-tunnel: capture OUTPUT',
    '-j',
    'EDGE-TUNNEL-OUTPUT',
  ]);
  t.notMatch(await nat(), /-j EDGE-TUNNEL-OUTPUT$/m, 'drift: someone deleted our OUTPUT jump');
  await until(async () => /-j EDGE-TUNNEL-OUTPUT$/m.test(await nat()), 'the jump restored by the resync', 5_000);

  await agent.close();
  await until(() => server.handle.registry.get('edge-n') === undefined, 'edge-n detached');
  await sleep(CAPTURE_DEBOUNCE_MS * 4);
  t.match(await nat(), rule(10255, AGENT_IP, HTTP_TARGET), 'a node whose agent left stays captured (fast 503 NO_TUNNEL, not a timeout)');
  const status = (await meta(server, '/debug/capture')).json();
  t.match(
    status,
    { mode: 'iptables', ok: true, running: true, nodeIps: [AGENT_IP, FLAGGED], ports: [9100, 10250, 10255], edgeNodeIpFlags: [FLAGGED], pending: false },
    '/debug/capture shows what is applied',
  );
  t.ok(status.applies >= 3, `applies counted (${status.applies})`);

  await server.handle.close();
  save = await nat();
  t.notMatch(save, /EDGE-TUNNEL/, 'shutdown removed every chain and jump');
  t.notOk(
    server.logs.find((l) => l['level'] === 50),
    'no error logged',
  );
});
