// The README's "## Error codes" table lists exactly CliErrorCode, then one `ERR_PKI_*` row for the
// lib's codes passed through, whose examples are PkiErrorCode codes. A code added, renamed or
// dropped on one side fails here. The "### Exit status" table lists exactly ExitCode.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { tableAfter, tableCodes } from '@edge-tunnel/doc-tables';
import { PkiErrorCode } from '@edge-tunnel/pki';
import { CliErrorCode, ExitCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const codes = (heading: string): string[] => tableCodes(readme, heading);
const firstCells = (heading: string): string[] => tableAfter(readme, heading).map((row) => row[0]!);

t.test('README "## Error codes" lists exactly CliErrorCode', async (t) => {
  t.strictSame(codes('## Error codes').sort(), [...Object.values(CliErrorCode), 'ERR_PKI_*'].sort());
});

t.test('the passed-through codes the README names are PkiErrorCode codes', async (t) => {
  const cli = new Set<string>(Object.values(CliErrorCode));
  const named = [...readme.matchAll(/`(ERR_PKI_[A-Z_]+)`/g)].map((m) => m[1]!).filter((c) => !cli.has(c));
  t.ok(named.length >= 1, `named: ${named.join(', ')}`);
  for (const c of named) t.ok((Object.values(PkiErrorCode) as string[]).includes(c), `${c} is a PkiErrorCode`);
});

t.test('README "### Exit status" lists exactly ExitCode', async (t) => {
  t.strictSame(firstCells('### Exit status').sort(), Object.values(ExitCode).map(String).sort());
});
