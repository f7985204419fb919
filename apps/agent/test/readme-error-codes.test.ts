// The README's "## Error codes" table lists exactly AgentErrorCode, and its proxy paragraph names
// exactly the ProxyFailure log codes: a code added, renamed or dropped on one side fails here.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { tableCodes } from '@edge-tunnel/doc-tables';
import { AgentErrorCode } from '../src/index.js';
import { ProxyFailure } from '../src/proxy-connect.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const codes = (heading: string): string[] => tableCodes(readme, heading);

t.test('README "## Error codes" lists exactly AgentErrorCode', async (t) => {
  t.strictSame(codes('## Error codes').sort(), Object.values(AgentErrorCode).sort());
});

t.test('README names exactly the ProxyFailure codes of a failed proxy dial', async (t) => {
  const at = readme.indexOf('A failed proxy dial logs');
  t.ok(at >= 0, 'README has the proxy failure paragraph');
  const para = readme.slice(at, readme.indexOf('\n\n', at));
  const named = [...para.matchAll(/`(proxy_[a-z_]+)`/g)].map((m) => m[1]!);
  t.strictSame(named.sort(), Object.values(ProxyFailure).sort());
});
