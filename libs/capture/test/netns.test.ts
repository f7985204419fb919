// Real iptables in throw-away network namespaces: the manager's rules land edge-node traffic on the
// "server" listeners of the cloud namespace, follow live config changes, and leave nothing on stop.
import t from 'tap';
import { EMPTY_PORT_CONFIG, parsePortConfig } from '@edge-tunnel/dnat';
import { COMMAND_NOT_FOUND, IptablesManager, createRunner } from '../src/index.js';
import { recordingLogger } from './fixtures/fakes.js';
import { CLOUD_IP, CLOUD_NODE_IP, EDGE_IP, EDGE_IP_2, createLab, labUnavailable } from './fixtures/netns.js';

const skip = await labUnavailable();
const HTTPS = { ip: CLOUD_IP, port: 10263 };
const HTTP = { ip: CLOUD_IP, port: 10264 };
const LANDED_HTTPS = 'landed-https';
const LANDED_HTTP = 'landed-http';

t.test('iptables capture in network namespaces', { skip: skip ?? false }, async (t) => {
  const lab = await createLab();
  const managers: IptablesManager[] = [];
  t.teardown(async () => {
    // even on failure: remove the rules, kill the helpers, delete the namespaces
    for (const m of managers) await m.stop();
    await lab.destroy();
  });
  const hasConntrack = await lab.run(lab.cloud, 'conntrack', ['--version']).then(
    () => true,
    () => false,
  );
  await lab.helper(lab.edge, [`${CLOUD_NODE_IP}:10255=cloud-node`, `${CLOUD_NODE_IP}:9100=cloud-node`]);
  const cloud = await lab.helper(lab.cloud, [`${CLOUD_IP}:10263=${LANDED_HTTPS}`, `${CLOUD_IP}:10264=${LANDED_HTTP}`]);
  const nat = () => lab.run(lab.cloud, 'iptables-save', ['-t', 'nat']);
  const logger = recordingLogger();
  // captureOtherPorts: false: the explicit per-port rules alone (netns-other-ports.test.ts covers the catch-all)
  const manager = new IptablesManager({ runner: createRunner({ netns: lab.cloud }), logger, httpsTarget: HTTPS, httpTarget: HTTP, captureOtherPorts: false });
  managers.push(manager);

  t.equal(await cloud.probe(`${EDGE_IP}:10255`), 'refused', 'without rules the edge answers: nothing listens');
  t.equal(await cloud.probe(`${CLOUD_NODE_IP}:10255`), 'cloud-node');

  t.strictSame(await manager.update([EDGE_IP], EMPTY_PORT_CONFIG), { applied: true, changed: true });
  t.equal(await cloud.probe(`${EDGE_IP}:10255`), LANDED_HTTP, '10255 lands on the HTTP listener');
  t.equal(await cloud.probe(`${EDGE_IP}:10250`), LANDED_HTTPS, '10250 lands on the HTTPS listener');
  t.equal(await cloud.probe(`${CLOUD_NODE_IP}:10255`), 'cloud-node', 'a cloud node is not captured');
  t.equal(await cloud.probe(`${EDGE_IP}:9100`), 'refused', 'an unconfigured port is not captured (captureOtherPorts: false)');
  let save = await nat();
  t.match(save, /^-A OUTPUT .*-j EDGE-TUNNEL-OUTPUT$/m);
  t.match(save, /^-A PREROUTING .*-j EDGE-TUNNEL-PREROUTING$/m);
  t.match(save, new RegExp(`^-A EDGE-TUNNEL-PORT-10255 -d ${EDGE_IP}/32 -p tcp -m tcp --dport 10255 .*-j DNAT --to-destination ${CLOUD_IP}:10264$`, 'm'));
  t.notMatch(save, CLOUD_NODE_IP);

  await manager.update([EDGE_IP], parsePortConfig({ 'http-proxy-ports': '9100' }).config);
  t.equal(await cloud.probe(`${EDGE_IP}:9100`), LANDED_HTTP, 'a port added live is captured');
  t.equal(await cloud.probe(`${CLOUD_NODE_IP}:9100`), 'cloud-node');
  const ct = (port: number) => lab.run(lab.cloud, 'conntrack', ['-L', '-p', 'tcp', '--orig-dst', EDGE_IP, '--orig-port-dst', String(port)]);
  if (hasConntrack) t.match(await ct(9100), /dport=9100/, 'the 9100 flow is tracked');

  await manager.update([EDGE_IP], EMPTY_PORT_CONFIG);
  t.equal(await cloud.probe(`${EDGE_IP}:9100`), 'refused', 'a port removed live is no longer captured');
  save = await nat();
  t.notMatch(save, 'EDGE-TUNNEL-PORT-9100', 'its chain is gone');
  if (hasConntrack) t.notMatch(await ct(9100), /dport=9100 src=\S+ dst=10\.244\.1\.1 sport=10264/, 'captured 9100 flows were flushed');

  await lab.run(lab.cloud, 'iptables', ['-t', 'nat', '-D', 'OUTPUT', '-m', 'comment', '--comment', 'edge-tunnel: capture OUTPUT', '-j', 'EDGE-TUNNEL-OUTPUT']);
  t.equal(await cloud.probe(`${EDGE_IP}:10255`), 'refused', 'drift: someone removed our OUTPUT jump');
  t.strictSame(await manager.resync(), { applied: true, changed: false });
  t.equal(await cloud.probe(`${EDGE_IP}:10255`), LANDED_HTTP, 'resync repaired it');
  t.equal((await nat()).match(/-j EDGE-TUNNEL-OUTPUT$/gm)?.length, 1, 'exactly one OUTPUT jump after resync');

  const other = new IptablesManager({
    runner: createRunner({ netns: lab.cloud }),
    logger,
    chainPrefix: 'EDGE-TUNNEL-B',
    httpsTarget: HTTPS,
    httpTarget: HTTP,
  });
  managers.push(other);
  t.equal(await cloud.probe(`${EDGE_IP_2}:10255`), 'refused');
  await other.update([EDGE_IP_2], parsePortConfig({ 'https-proxy-ports': '9443' }).config);
  t.equal(await cloud.probe(`${EDGE_IP_2}:10255`), LANDED_HTTP, 'a second installation with its own prefix');
  t.equal(await cloud.probe(`${EDGE_IP_2}:9443`), LANDED_HTTPS);

  t.equal(await manager.stop(), true);
  save = await nat();
  t.notMatch(save, /EDGE-TUNNEL-(OUTPUT|PREROUTING|PORT)/, 'no chain or jump of ours is left');
  t.match(save, /EDGE-TUNNEL-B-PORT-9443/, 'the other installation is untouched');
  t.equal(await cloud.probe(`${EDGE_IP}:10255`), 'refused', 'after stop the connection is refused again');
  t.equal(await cloud.probe(`${EDGE_IP_2}:9443`), LANDED_HTTPS, 'the other installation still captures');
  t.equal(await other.stop(), true);
  t.notMatch(await nat(), /EDGE-TUNNEL/, 'both gone');
  t.equal(logger.lines.filter((l) => l.level === 'error').length, 0, 'no error logged');
});

t.test('a netns runner reports a missing command as 127', { skip: skip ?? false }, async (t) => {
  const lab = await createLab();
  t.teardown(() => lab.destroy());
  const res = await createRunner({ netns: lab.cloud }).run('et-cap-no-such-command', []);
  t.equal(res.code, COMMAND_NOT_FOUND);
});
