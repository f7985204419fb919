// The README's flag tables list exactly the flags of config-flags.ts, with their env variables and
// defaults (the README keeps its longer explanations; this keeps names and defaults honest).
import { readFile } from 'node:fs/promises';
import { readmeFlagProblems, readmeFlagRows } from '@edge-tunnel/flags';
import t from 'tap';
import { SERVER_FLAGS } from '../src/index.js';

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');

t.test('README flag tables = the flag table: names, env variables, defaults', async (t) => {
  t.same(readmeFlagProblems(SERVER_FLAGS, readme), []);
  t.equal(
    readmeFlagRows(readme)
      .flatMap((r) => r.flags)
      .filter((f) => f !== 'help').length,
    SERVER_FLAGS.flags.length,
    'one README entry per flag',
  );
});
