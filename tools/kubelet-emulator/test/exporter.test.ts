import { get } from 'node:http';
import t from 'tap';
import { startExporter } from '../src/index.js';

function fetchText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.10.2:${port}${path}`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

t.test('the exporter serves node_ metrics with a scrape counter', async (t) => {
  const exporter = await startExporter({ host: '127.0.10.2', port: 0 });
  t.teardown(() => exporter.close());
  t.ok(exporter.port > 0);
  const first = await fetchText(exporter.port, '/metrics');
  t.equal(first.status, 200);
  t.match(first.body, /^node_exporter_scrapes_total 1$/m);
  t.match(first.body, /^node_cpu_seconds_total\{cpu="0",mode="user"\} [\d.]+$/m);
  t.match(first.body, /^node_memory_MemTotal_bytes \d+$/m);
  t.ok(
    first.body
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .every((l) => l.startsWith('node_')),
    'only node_ metrics',
  );
  const second = await fetchText(exporter.port, '/metrics');
  t.match(second.body, /^node_exporter_scrapes_total 2$/m);
  t.equal((await fetchText(exporter.port, '/')).status, 404);
});

t.test('the exporter rejects a bad port and a taken one', async (t) => {
  await t.rejects(startExporter({ host: '127.0.10.2', port: 70000 }), { code: 'ERR_KUBELET_BAD_OPTIONS' });
  const first = await startExporter({ host: '127.0.10.2', port: 0 });
  t.teardown(() => first.close());
  await t.rejects(startExporter({ host: '127.0.10.2', port: first.port }), { code: 'ERR_KUBELET_LISTEN' });
});
