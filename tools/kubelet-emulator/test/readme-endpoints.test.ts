// The README's endpoint table is what the emulator serves: the rows marked RO are exactly the plain
// GET routes (served on both ports, 200 on the read-only one), the others the read-write port's log
// and WebSocket routes (404 on the read-only port).
import t from 'tap';
import { get } from 'node:http';
import { readFileSync } from 'node:fs';
import { FIXED_ROUTES } from '../src/routes.js';
import { STREAM_ROUTES } from '../src/upgrade.js';
import { httpsGet, startTestKubelet } from './fixtures/kubelet.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('| endpoint | notes |'));
const lines = section.split('\n').slice(2);
const rows = lines.slice(
  0,
  lines.findIndex((l) => !l.startsWith('| ')),
);
const endpoints = rows.map((r) => {
  const m = /^\| `([A-Z|\\]+) ([^`?]+)[^`]*`( \(RO\))? \|/.exec(r);
  if (!m) throw new Error(`not an endpoint row: ${r.slice(0, 80)}`);
  return { methods: m[1]!.replace(/\\/g, ''), path: m[2]!, ro: m[3] !== undefined };
});

const plainGet = (port: number, path: string) =>
  new Promise<number>((resolve, reject) => {
    get({ host: '127.0.10.1', port, path }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject);
  });

t.test('the RO rows are exactly the plain GET routes; the others the log and WebSocket routes', async (t) => {
  t.strictSame(
    endpoints
      .filter((e) => e.ro)
      .map((e) => e.path)
      .sort(),
    Object.keys(FIXED_ROUTES).sort(),
  );
  t.ok(
    endpoints.filter((e) => e.ro).every((e) => e.methods === 'GET'),
    'RO endpoints are GET',
  );
  const firstSegment = (p: string) => p.split('/')[1]!;
  t.strictSame(
    endpoints
      .filter((e) => !e.ro)
      .map((e) => firstSegment(e.path))
      .sort(),
    ['containerLogs', ...Object.keys(STREAM_ROUTES)].sort(),
  );
});

t.test('every RO endpoint answers 200 on both ports; the others 404 on the read-only port', async (t) => {
  const kubelet = await startTestKubelet(t);
  for (const e of endpoints) {
    const path = e.path.replace('{ns}', 'default').replace('{pod}', 'p').replace('{container}', 'c');
    if (e.ro) {
      t.equal(await plainGet(kubelet.httpPort, path), 200, `RO ${path}`);
      t.equal((await httpsGet(kubelet, path)).status, 200, `HTTPS ${path}`);
    } else t.equal(await plainGet(kubelet.httpPort, path), 404, `not on the read-only port: ${path}`);
  }
});
