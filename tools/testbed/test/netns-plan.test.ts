// The pure parts of the testbed: the address plan, the files it writes, and the stale-namespace names.
import t from 'tap';
import { parse } from 'yaml';
import { daemonSetContainer, expandKubeVars, lineSpec, planTopology, portConfigText, prometheusConfig, shapeOf } from '../src/index.js';
import { creatorPid } from '../src/netns/topology.js';

t.test('netns plan: per-edge namespaces, uplink /30s and node IPs outside every uplink', async (t) => {
  const plan = planTopology('netns', 3, '42-ab12cd');
  t.equal(plan.cloudNs, 'et-tb-42-ab12cd-c');
  t.same(
    plan.edges.map((e) => [e.name, e.ns, e.ip, e.uplinkCloud, e.uplinkEdge, e.cloudDev]),
    [
      ['edge-1', 'et-tb-42-ab12cd-e1', '10.251.1.2', '10.250.1.1', '10.250.1.2', 'edge1'],
      ['edge-2', 'et-tb-42-ab12cd-e2', '10.251.2.2', '10.250.2.1', '10.250.2.2', 'edge2'],
      ['edge-3', 'et-tb-42-ab12cd-e3', '10.251.3.2', '10.250.3.1', '10.250.3.2', 'edge3'],
    ],
  );
  t.equal(plan.edgeNet, '10.251.0.0/16');
  t.ok(
    plan.edges.every((e) => e.ip.startsWith('10.251.') && !e.uplinkEdge.startsWith('10.251.')),
    'node IPs only in the edge net',
  );
  t.not(plan.lbAddress, plan.serverAddress, 'agents dial the LB; callers land on the server address');
  for (const bad of [0, 51, 1.5]) t.throws(() => planTopology('netns', bad, '1-aa'), RangeError, `edges ${bad}`);
});

t.test('netns plan with egressProxy: a proxy namespace, squid on an address outside every edge route but its own', async (t) => {
  const plan = planTopology('netns', 2, '42-ab12cd', true);
  t.same(plan.proxy, { ns: 'et-tb-42-ab12cd-p', address: '10.249.1.1', port: 3128, cloudLinkProxy: '10.249.0.2', cloudLinkCloud: '10.249.0.1' });
  t.same(
    plan.edges.map((e) => e.uplinkCloud),
    ['10.250.1.1', '10.250.2.1'],
    'the uplinks keep their /30s (their far end is the proxy namespace)',
  );
  t.notOk(planTopology('netns', 2, '42-ab12cd').proxy, 'no proxy unless asked');
  t.throws(() => planTopology('loopback', 2, '7-0001aa', true), RangeError, 'egressProxy needs netns mode');
  t.equal(creatorPid(plan.proxy!.ns), 42, "a killed run's proxy namespace is swept too");
});

t.test("agentCommand daemonset: the manifest's agent args, $(VAR) expanded as the kubelet does", async (t) => {
  const c = await daemonSetContainer();
  t.equal(c.args[0], 'apps/agent/dist/main.js');
  t.ok(
    c.args.includes('--server=$(SERVER_ADDR)') && c.args.includes('--bootstrap-token-file=/etc/edge-tunnel/bootstrap/token'),
    'the args the testbed fills in are still there',
  );
  const env = { SERVER_ADDR: '10.250.0.1:10262', EMPTY: '' };
  t.equal(expandKubeVars('--server=$(SERVER_ADDR)', env), '--server=10.250.0.1:10262');
  t.equal(expandKubeVars('--x=$(EMPTY)', env), '--x=');
  t.equal(expandKubeVars('--x=$(UNSET)', env), '--x=$(UNSET)', 'an unknown name stays, as in Kubernetes');
  t.equal(expandKubeVars('--x=$$(SERVER_ADDR)', env), '--x=$(SERVER_ADDR)', '$$ escapes');
});

t.test('loopback plan: one 127.77.n.0/24 block per id, no namespaces', async (t) => {
  const a = planTopology('loopback', 2, '7-0001aa');
  const b = planTopology('loopback', 2, '7-0002aa');
  t.equal(a.cloudNs, undefined);
  t.same(
    a.edges.map((e) => [e.ns, e.ip]),
    [
      ['', '127.77.2.11'],
      ['', '127.77.2.12'],
    ],
  );
  t.equal(a.serverAddress, '127.77.2.1');
  t.not(a.serverAddress, b.serverAddress, 'another id, another block');
});

t.test('netns plan with weakLink: a wire namespace between the edges and the cloud, its delay line shaped per direction', async (t) => {
  const plan = planTopology('netns', 2, '42-ab12cd', false, true);
  t.same(plan.wire, { ns: 'et-tb-42-ab12cd-w', cloudLinkWire: '10.248.0.2', cloudLinkCloud: '10.248.0.1', tunEdge: 'wl-edge', tunCloud: 'wl-cloud' });
  t.notOk(planTopology('netns', 2, '42-ab12cd').wire, 'no wire unless asked');
  t.throws(() => planTopology('loopback', 2, '7-0001aa', false, true), RangeError, 'weakLink needs netns mode');
  t.throws(() => planTopology('netns', 2, '7-0001aa', true, true), RangeError, 'weakLink and egressProxy do not combine');
  t.equal(creatorPid(plan.wire!.ns), 42, "a killed run's wire namespace is swept too");
  const opts = { delayMs: 150, rateMbit: 20, lossPct: 1, down: { lossPct: 0, delayMs: 100 } };
  t.equal(lineSpec(shapeOf(opts, 'up')), 'delay=150,loss=1,jitter=0,rate=20,queue=100', 'up: the common fields, defaults filled in');
  t.equal(lineSpec(shapeOf(opts, 'down')), 'delay=100,loss=0,jitter=0,rate=20,queue=100', 'down: its overrides');
});

t.test('creatorPid reads our namespace names only', async (t) => {
  t.equal(creatorPid('et-tb-4242-0c43be-c'), 4242);
  t.equal(creatorPid('et-tb-4242-0c43be-e12'), 4242);
  t.equal(creatorPid('et-tb-4242-0c43be-p'), 4242);
  for (const foreign of ['et-cap-1234-c', 'et-tb-x-aa-c', 'et-tb-12-aa-z', 'et-tb-12-aa-c-more']) t.equal(creatorPid(foreign), undefined, foreign);
});

t.test('port config file: ConfigMap keys round-trip through YAML (the parser the server uses)', async (t) => {
  const data = { 'dnat-ports-pair': '9100=10264', 'https-proxy-ports': "9443,it's" };
  t.same(parse(portConfigText(data)), data, 'quotes survive');
  t.equal(parse(portConfigText({})), null, 'an empty config is an empty document');
});

t.test('prometheus config: 1 s scrapes of the given targets, proxy only when asked', async (t) => {
  const plain = parse(prometheusConfig(['10.251.1.2:9100'], 1)) as Record<string, any>;
  t.same(plain.global, { scrape_interval: '1s', scrape_timeout: '1s' });
  t.same(plain.scrape_configs[0].static_configs, [{ targets: ['10.251.1.2:9100'] }]);
  t.notOk('proxy_url' in plain.scrape_configs[0]);
  const viaProxy = parse(prometheusConfig(['127.77.2.11:9100'], 2, 'http://127.77.2.1:10264')) as Record<string, any>;
  t.equal(viaProxy.scrape_configs[0].proxy_url, 'http://127.77.2.1:10264');
});
