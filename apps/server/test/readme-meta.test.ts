// The README's Meta listener paragraph names exactly the paths the meta server serves: its own routes
// (meta.ts) and the status pages start.ts hands it (`debug`). A page added or dropped on one side fails.
import t from 'tap';
import { readFileSync } from 'node:fs';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');
const readme = read('../README.md');
const paths = (text: string) => [...new Set([...text.matchAll(/'(\/(?:healthz|readyz|metrics|debug\/[a-z-]+))':/g)].map((m) => m[1]!))];

t.test('the Meta paragraph lists every meta path, and only those', async (t) => {
  const meta = read('../src/meta.ts');
  const own = paths(meta.slice(meta.indexOf('export function createMetaServer')));
  const start = read('../src/start.ts');
  const debug = paths(start.slice(start.indexOf('createMetaServer(')));
  t.ok(own.length >= 5 && debug.length >= 4, `found ${own.join(' ')} · ${debug.join(' ')}`);
  const at = readme.indexOf('- **Meta** (');
  const para = readme.slice(at, readme.indexOf('\n\n', at));
  const named = [...new Set([...para.matchAll(/`(\/(?:healthz|readyz|metrics|debug\/[a-z-]+))`/g)].map((m) => m[1]!))];
  t.strictSame(named.sort(), [...own, ...debug].sort());
});
