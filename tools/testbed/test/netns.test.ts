// The testbed end to end: real server, agents and kubelet emulators; callers are curl in the cloud.
// netns mode (root): the server's own iptables DNAT in the cloud namespace carries edgeIP:port into the tunnel.
// loopback mode (no root, or EDGE_TUNNEL_TESTBED_MODE=loopback): curl goes through the CONNECT frontend.
import t, { type Test } from 'tap';
import { listNamespaces, startTestbed, type Testbed } from '../src/index.js';

const tb: Testbed = await startTestbed({ edges: 2, exporterOn: [] });
t.teardown(() => tb.close());
const m = `[${tb.mode}]`;
t.comment(`testbed mode: ${tb.mode} (${tb.modeReason})`);
const [a, b] = tb.edges as [Testbed['edges'][0], Testbed['edges'][0]];
const dumpOnFail = (tt: Test): void =>
  tt.teardown(() => {
    if (!tt.passing()) console.error(tb.logs().slice(-40).join('\n'));
  });

t.test(
  `${m} the server's own --capture iptables carries edgeIP:10255; bypassed, the cloud cannot reach the edge`,
  { skip: tb.mode === 'netns' ? false : 'loopback addresses are reachable without the tunnel: nothing to isolate' },
  async (tt) => {
    dumpOnFail(tt);
    tt.match(
      await tb.captureStatus(),
      { mode: 'iptables', ok: true, nodeIps: [...tb.edgeIps].sort(), ports: [10250, 10255] },
      'the server captures every edge on the built-in ports',
    );
    const save = (await tb.exec(tb.cloudNs, 'iptables-save', ['-t', 'nat'])).stdout;
    for (const edge of tb.edges) {
      const rule = `-A EDGE-TUNNEL-PORT-10255 -d ${edge.ip}/32 -p tcp -m tcp --dport 10255 -m comment --comment "edge-tunnel: ${edge.ip} 10255" -j DNAT --to-destination ${tb.serverAddress}:10264`;
      tt.ok(save.split('\n').includes(rule), `${edge.name}: DNAT to the server's HTTP listener in the cloud namespace`);
    }
    // a rule ahead of the server's jump skips its DNAT for edge-1:10255 only
    const bypass = ['OUTPUT', '-d', a.ip, '-p', 'tcp', '--dport', '10255', '-j', 'RETURN'];
    await tb.exec(tb.cloudNs, 'iptables', ['-w', '-t', 'nat', '-I', ...bypass]);
    const res = await tb.exec(tb.cloudNs, 'curl', ['-sS', '-m', '3', `http://${a.ip}:10255/healthz`]);
    await tb.exec(tb.cloudNs, 'iptables', ['-w', '-t', 'nat', '-D', ...bypass]);
    tt.equal(res.code, 7, 'curl: failed to connect');
    tt.match(res.stderr, /Failed to connect/, `no connection (${res.stderr.trim()})`);
    tt.ok(res.durationMs < 2_000, `fails fast (${res.durationMs.toFixed(0)} ms)`);
    const again = await tb.curl(['-sS', '-m', '5', `http://${a.ip}:10255/healthz`]);
    tt.equal(again.stdout, 'ok', `through the capture again once the bypass is gone ${again.stderr}`);
  },
);

t.test(`${m} curl http://edgeIP:10255/healthz from the cloud reaches each kubelet through the tunnel`, async (tt) => {
  dumpOnFail(tt);
  for (const edge of tb.edges) {
    const res = await tb.curl(['-sS', '-m', '5', `http://${edge.ip}:10255/healthz`]);
    tt.equal(res.code, 0, `${edge.name}: curl exit 0 ${res.stderr}`);
    tt.equal(res.stdout, 'ok', `${edge.name}: /healthz answers ok`);
  }
});

t.test(`${m} curl https://edgeIP:10250/stats/summary with the caller certificate returns the node's summary`, async (tt) => {
  dumpOnFail(tt);
  const tls = ['--cacert', tb.certs.path('ca', 'crt'), '--cert', tb.certs.path('caller', 'crt'), '--key', tb.certs.path('caller', 'key')];
  for (const edge of [b, a]) {
    const res = await tb.curl(['-sS', '-m', '5', ...tls, `https://${edge.ip}:10250/stats/summary`]);
    tt.equal(res.code, 0, `${edge.name}: curl exit 0 ${res.stderr}`);
    const summary = JSON.parse(res.stdout || '{}') as { node?: { nodeName?: string } };
    tt.equal(summary.node?.nodeName, edge.name, `${edge.name}: the summary names the node`);
  }
  const noCert = await tb.curl(['-sS', '-m', '5', '--cacert', tb.certs.path('ca', 'crt'), `https://${a.ip}:10250/stats/summary`]);
  tt.not(noCert.code, 0, 'without a caller certificate the TLS handshake is refused');
});

t.test(`${m} an HTTP request for an unconfigured custom port gets a fast explicit 403`, async (tt) => {
  dumpOnFail(tt);
  // An HTTP request for edgeIP:9999 landing on the HTTP channel (:10264), as a DNAT rule or an HTTP
  // proxy client would deliver it.
  const res = await tb.exec(tb.cloudNs, 'curl', [
    '-sS',
    '-i',
    '-m',
    '5',
    '-w',
    '\ntime_total=%{time_total}',
    '--connect-to',
    `${a.ip}:9999:${tb.serverAddress}:10264`,
    `http://${a.ip}:9999/metrics`,
  ]);
  // curl's own clock: process start-up in a namespace on a loaded machine is not the server's answer time
  const answeredMs = 1_000 * Number(/time_total=([\d.]+)/.exec(res.stdout)?.[1] ?? NaN);
  tt.equal(res.code, 0, `curl exit 0 ${res.stderr}`);
  tt.match(res.stdout, /^HTTP\/1\.1 403/, 'status 403');
  tt.match(res.stdout, /X-Tunnel-Error: PORT_NOT_CONFIGURED/i, 'reason PORT_NOT_CONFIGURED');
  tt.match(res.stdout, /dnat-ports-pair/, 'the body names the ConfigMap key to set');
  tt.ok(answeredMs < 1_000, `answered fast (${answeredMs.toFixed(0)} ms by curl's clock, ${res.durationMs.toFixed(0)} ms with process start-up)`);
  if (tb.mode === 'loopback') {
    const viaConnect = await tb.curl(['-sS', '-m', '5', `http://${a.ip}:9999/metrics`]);
    tt.match(viaConnect.stderr, /CONNECT tunnel failed, response 403/, 'CONNECT edgeIP:9999 is refused with 403 too');
  }
  if (tb.mode === 'netns') {
    // the server's capture DNATs every other port of an edge IP to :10264 (--iptables-other-ports), so
    // the plain request, without --connect-to, gets the same answer instead of a failed connect
    const direct = await tb.exec(tb.cloudNs, 'curl', ['-sS', '-i', '-m', '3', `http://${a.ip}:9999/metrics`]);
    tt.equal(direct.code, 0, `curl http://edgeIP:9999 reaches the server through the catch-all DNAT ${direct.stderr.trim()}`);
    tt.match(direct.stdout, /^HTTP\/1\.1 403[\s\S]*X-Tunnel-Error: PORT_NOT_CONFIGURED/i, 'and gets 403 PORT_NOT_CONFIGURED');
  }
});

t.test(`${m} close() stops everything and deletes the namespaces`, async (tt) => {
  const ours = [tb.cloudNs, ...tb.edgeNs].filter((n): n is string => !!n);
  const procs = [tb.server, ...tb.agents.values(), ...tb.kubelets.values()];
  await tb.close();
  const left = await listNamespaces();
  tt.same(
    ours.filter((n) => left.includes(n)),
    [],
    '`ip netns list` has none of ours (nor, with them, any rule)',
  );
  tt.ok(
    procs.every((p) => p.child.exitCode !== null || p.child.signalCode !== null),
    'every process has exited',
  );
  if (tb.mode === 'netns')
    tt.ok(
      tb.logs().some((l) => l.includes('[server]') && l.includes('capture rules removed')),
      'the server removed its rules on SIGTERM, after the drain',
    );
});
