// Real iptables in throw-away network namespaces: a port nobody configured on an edge IP. The edge
// namespace drops TCP to the edge IP, as an edge node behind NAT does for the cloud, so without the
// catch-all such a connection hangs; with it (the default) it lands on the HTTP listener at once.
// A cloud node's ports and a stopped manager are left alone.
import t from 'tap';
import { EMPTY_PORT_CONFIG, parsePortConfig } from '@edge-tunnel/dnat';
import { IptablesManager, createRunner } from '../src/index.js';
import { recordingLogger } from './fixtures/fakes.js';
import { createLab, labUnavailable } from './fixtures/netns.js';

const skip = await labUnavailable();
const LANDED_HTTPS = 'landed-https';
const LANDED_HTTP = 'landed-http';

t.test('every other port of an edge IP lands on the HTTP listener instead of hanging', { skip: skip ?? false }, async (t) => {
  const lab = await createLab({ prefix: 'h18-cap', subnet: '10.218.1' });
  const { cloud: cloudIp, edge, edge2, cloudNode } = lab.ips;
  const managers: IptablesManager[] = [];
  t.teardown(async () => {
    for (const m of managers) await m.stop();
    await lab.destroy();
  });
  // the edge side is unreachable from the cloud (NAT): SYNs to the edge IPs vanish
  for (const ip of [edge, edge2]) await lab.run(lab.edge, 'iptables', ['-A', 'INPUT', '-d', ip, '-p', 'tcp', '-j', 'DROP']);
  await lab.helper(lab.edge, [`${cloudNode}:9999=cloud-node`]);
  const cloud = await lab.helper(lab.cloud, [`${cloudIp}:10263=${LANDED_HTTPS}`, `${cloudIp}:10264=${LANDED_HTTP}`]);
  const logger = recordingLogger();
  const runner = createRunner({ netns: lab.cloud });
  const https = { ip: cloudIp, port: 10263 };
  const http = { ip: cloudIp, port: 10264 };

  t.equal(await cloud.probe(`${edge}:9999`), 'timeout', 'before: an unconfigured port of an edge IP hangs');

  const pass = new IptablesManager({ runner, logger, httpsTarget: https, httpTarget: http, captureOtherPorts: false });
  managers.push(pass);
  await pass.update([edge], EMPTY_PORT_CONFIG);
  t.equal(await cloud.probe(`${edge}:10255`), LANDED_HTTP, 'captureOtherPorts: false captures the built-ins');
  t.equal(await cloud.probe(`${edge}:9999`), 'timeout', '... and lets other ports hang');
  await pass.stop();

  const manager = new IptablesManager({ runner, logger, httpsTarget: https, httpTarget: http });
  managers.push(manager);
  await manager.update([edge], parsePortConfig({ 'https-proxy-ports': '9443' }).config);
  t.equal(await cloud.probe(`${edge}:9999`), LANDED_HTTP, 'an unconfigured port lands on the HTTP listener');
  t.equal(await cloud.probe(`${edge}:22`), LANDED_HTTP, 'any TCP port');
  t.equal(await cloud.probe(`${edge}:9443`), LANDED_HTTPS, 'a configured HTTPS port keeps its channel');
  t.equal(await cloud.probe(`${edge}:10250`), LANDED_HTTPS, '10250 keeps its channel');
  t.equal(await cloud.probe(`${cloudNode}:9999`), 'cloud-node', 'a cloud node is not captured');
  t.equal(await cloud.probe(`${edge2}:9999`), 'timeout', 'an IP that is not an edge node IP is not captured');
  t.equal(manager.status().otherPorts, true, 'status says so');

  await manager.update([edge, edge2], EMPTY_PORT_CONFIG);
  t.equal(await cloud.probe(`${edge2}:9999`), LANDED_HTTP, 'a node IP added live gets the catch-all');
  t.equal(await cloud.probe(`${edge}:9443`), LANDED_HTTP, 'a port removed live falls to the catch-all (HTTP listener)');

  t.equal(await manager.stop(), true);
  t.notMatch(await lab.run(lab.cloud, 'iptables-save', ['-t', 'nat']), /EDGE-TUNNEL/, 'stop removed the catch-all chain too');
  t.equal(await cloud.probe(`${edge}:9999`), 'timeout', 'after stop: back to the hang');
  t.equal(logger.lines.filter((l) => l.level === 'error').length, 0, 'no error logged');
});
