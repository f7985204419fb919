// The README's "## Error codes (library API)" table lists exactly ErrorCode: a code added, renamed or dropped on one side
// fails here.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { tableCodes } from '@edge-tunnel/doc-tables';
import { ErrorCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const codes = (heading: string): string[] => tableCodes(readme, heading);

t.test('README "## Error codes (library API)" lists exactly ErrorCode', async (t) => {
  t.strictSame(codes('## Error codes (library API)').sort(), Object.values(ErrorCode).sort());
});
