// Every source file is formatted by prettier (config in .prettierrc.json at the root: width 160, single
// quotes). A failure lists the files; `npx prettier --write <file>` formats one. Tables that read best one
// row per line are kept by a `// prettier-ignore` above them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import t from 'tap';
import { readProjects, ROOT, sourceFiles } from '../src/workspace.js';

t.test('prettier: every source file is formatted', async (t) => {
  const files = readProjects().flatMap((p) => sourceFiles(p));
  t.ok(files.length > 500, `${files.length} files checked`);
  const unformatted: string[] = [];
  for (const file of files) {
    const path = join(ROOT, file);
    const options = await prettier.resolveConfig(path);
    if (!options) unformatted.push(`${file} (no .prettierrc.json applies)`);
    else if (!(await prettier.check(readFileSync(path, 'utf8'), { ...options, filepath: path }))) unformatted.push(file);
  }
  t.same(unformatted, [], 'prettier --check finds nothing to change');
});
