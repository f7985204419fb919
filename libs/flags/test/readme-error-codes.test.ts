// The README names exactly the FlagErrorCode codes (one: every flag error is a FlagError).
import { readFileSync } from 'node:fs';
import t from 'tap';
import { FlagErrorCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

t.test('README names exactly FlagErrorCode', async (t) => {
  const named = [...new Set([...readme.matchAll(/`(ERR_FLAG_[A-Z_]+)`/g)].map((m) => m[1]!))];
  t.strictSame(named.sort(), Object.values(FlagErrorCode).sort());
});
