// eslint (typescript-eslint's recommended rules, config in eslint.config.mjs at the root) finds no
// problem in any source file of the repository. A failure lists file:line rule message.
import { ESLint } from 'eslint';
import t from 'tap';
import { ROOT } from '../src/workspace.js';

t.test('eslint: no problems in the repository', async (t) => {
  const eslint = new ESLint({ cwd: ROOT });
  const results = await eslint.lintFiles(['.']);
  const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(ROOT.length + 1)}:${m.line} ${m.ruleId ?? 'parse'} ${m.message}`));
  t.ok(results.length > 300, `${results.length} files linted`);
  t.same(problems, []);
});
