// No source file is over 400 lines: a file that grows past it holds two things, and splits along them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readProjects, ROOT, sourceFiles } from '../src/workspace.js';

const MAX_LINES = 400;

t.test(`no source file is over ${MAX_LINES} lines`, (t) => {
  const files = readProjects().flatMap((p) => sourceFiles(p));
  t.ok(files.length > 500, `${files.length} files read`);
  const long = files
    .map((file) => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').trimEnd().split('\n').length }))
    .filter(({ lines }) => lines > MAX_LINES)
    .map(({ file, lines }) => `${file}: ${lines} lines`);
  t.same(long, []);
  t.end();
});
