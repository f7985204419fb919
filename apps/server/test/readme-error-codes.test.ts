// The README's "## Error codes (`ServerError.code`)" table lists exactly ServerErrorCode: a code added, renamed or dropped on one side
// fails here.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { tableCodes } from '@edge-tunnel/doc-tables';
import { ServerErrorCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const codes = (heading: string): string[] => tableCodes(readme, heading);

t.test('README "## Error codes (`ServerError.code`)" lists exactly ServerErrorCode', async (t) => {
  t.strictSame(codes('## Error codes (`ServerError.code`)').sort(), Object.values(ServerErrorCode).sort());
});
