// The README's "## Error codes" table lists exactly PkiErrorCode: a code added, renamed or dropped on one side
// fails here.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { tableCodes } from '@edge-tunnel/doc-tables';
import { PkiErrorCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const codes = (heading: string): string[] => tableCodes(readme, heading);

t.test('README "## Error codes" lists exactly PkiErrorCode', async (t) => {
  t.strictSame(codes('## Error codes').sort(), Object.values(PkiErrorCode).sort());
});
