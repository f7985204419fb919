// Custom monitoring ports through the port config, with real Prometheus and node-exporter: the
// exporter on edge-1 is scraped at edgeIP:9100 only while `dnat-ports-pair: '9100=10264'` is set,
// and the entry is added and removed while everything runs.
import t from 'tap';
import { execIn, startPrometheus, startTestbed, type PrometheusHandle, type Testbed } from '../src/index.js';

const missing = (
  await Promise.all(
    ['prometheus', 'prometheus-node-exporter'].map(async (cmd) => ((await execIn(undefined, 'sh', ['-c', `command -v ${cmd}`])).code === 0 ? undefined : cmd)),
  )
).filter(Boolean);

if (missing.length > 0) {
  t.test(
    'prometheus scrapes an edge exporter through the tunnel',
    {
      skip: `${missing.join(', ')} not installed (Debian packages prometheus, prometheus-node-exporter)`,
    },
    async () => undefined,
  );
} else {
  const tb: Testbed = await startTestbed({ edges: 1, exporterOn: [0] });
  t.teardown(() => tb.close());
  const m = `[${tb.mode}]`;
  t.comment(`testbed mode: ${tb.mode} (${tb.modeReason})`);
  const edge = tb.edges[0]!;
  const target = `${edge.ip}:9100`;
  let prom: PrometheusHandle;

  t.test(`${m} prometheus in the cloud sees ${target} down while port 9100 is not configured`, async (tt) => {
    prom = await startPrometheus(tb, { targets: [target], scrapeIntervalSeconds: 1 });
    tt.teardown(() => {
      if (!tt.passing()) console.error(tb.logs().slice(-40).join('\n'));
    });
    const down = await prom.waitForHealth(target, 'down', 10_000);
    tt.equal(down.health, 'down', `down: ${down.lastError}`);
    tt.match(down.lastError, /403/, 'the scrape gets 403 (netns: through the catch-all DNAT of other ports; loopback: CONNECT)');
  });

  t.test(`${m} adding dnat-ports-pair '9100=10264' while running brings the target up`, async (tt) => {
    tt.teardown(() => {
      if (!tt.passing()) console.error(tb.logs().slice(-40).join('\n'));
    });
    const started = Date.now();
    await tb.setPortConfig({ 'dnat-ports-pair': '9100=10264' });
    if (tb.mode === 'netns') tt.ok((await tb.captureStatus())?.ports?.includes(9100), "the server's capture DNATs 9100 once setPortConfig resolves");
    const up = await prom.waitForHealth(target, 'up', 10_000);
    tt.equal(up.health, 'up', `up within ${Date.now() - started} ms`);
    const q = await tb.exec(tb.cloudNs, 'curl', ['-sf', '-m', '2', `${prom.url}/api/v1/query?query=node_load1`]);
    tt.match(q.stdout, new RegExp(`"instance":"${target.replaceAll('.', '\\.')}"`), 'node_load1 of the edge is stored');
  });

  t.test(`${m} removing the entry takes the target down again`, async (tt) => {
    tt.teardown(() => {
      if (!tt.passing()) console.error(tb.logs().slice(-40).join('\n'));
    });
    const started = Date.now();
    await tb.setPortConfig({});
    if (tb.mode === 'netns') tt.notOk((await tb.captureStatus())?.ports?.includes(9100), "the server's capture no longer DNATs 9100");
    const down = await prom.waitForHealth(target, 'down', 10_000);
    tt.equal(down.health, 'down', `down within ${Date.now() - started} ms: ${down.lastError}`);
    await prom.close();
  });
}
