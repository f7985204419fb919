// The README's table of the lib's error codes lists exactly FramingErrorCode, and the wire code table
// of the spec lists exactly ErrorCode with the same numbers.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { ErrorCode, FramingErrorCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const spec = readFileSync(new URL('../docs/spec.md', import.meta.url), 'utf8');

t.test('README lists exactly the FramingErrorCode codes', async (t) => {
  const listed = [...readme.matchAll(/^\| `(ERR_FRAMING_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
  t.same(listed, Object.values(FramingErrorCode).sort());
});

t.test('spec §3 lists exactly the wire codes, same numbers', async (t) => {
  const section = spec.slice(spec.indexOf('## 3. Error codes'), spec.indexOf('## 4.'));
  const rows = [...section.matchAll(/^\| (\d+) \| ([A-Z_]+) \|/gm)].map((m) => [m[2], Number(m[1])]);
  t.same(Object.fromEntries(rows), ErrorCode);
});
