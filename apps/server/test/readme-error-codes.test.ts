// The README's "## Error codes (`ServerError.code`)" table lists exactly ServerErrorCode: a code added, renamed or dropped on one side
// fails here.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { ServerErrorCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** the first column of the first table after `heading`, each cell's backticked code */
function codes(heading: string): string[] {
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const lines = readme.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('| '));
  const out: string[] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    const cell = l.slice(1).split(' | ')[0]!.trim();
    out.push(/^`([^`]+)`$/.exec(cell)?.[1] ?? `(not a code: ${cell})`);
  }
  return out;
}

t.test('README "## Error codes (`ServerError.code`)" lists exactly ServerErrorCode', async (t) => {
  t.strictSame(codes('## Error codes (`ServerError.code`)').sort(), Object.values(ServerErrorCode).sort());
});
