// The README's "Statuses" table lists exactly the codes of TUNNEL_ERRORS, with their statuses; the
// dnat and framing codes the table passes through agree with their sources; the /debug/tunnels fields
// and the entry of a node without a session are the ones TunnelInfo / tunnelInfo give.
import t from 'tap';
import { tunnelInfo } from '../src/agents/registry.js';
import { readFileSync } from 'node:fs';
import { MISS_STATUS } from '@edge-tunnel/dnat';
import { TUNNEL_ERRORS } from '../src/proxy/tunnel-errors.js';
import { RESET_STATUS } from '../src/proxy/http-errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Statuses'), readme.indexOf('## Port config file'));
const rows = [...section.matchAll(/^\| (\S+) \| `([A-Z_]+)` \|/gm)].map((m) => [m[2]!, m[1]!] as const);

t.test('README Statuses lists exactly the TUNNEL_ERRORS codes, with their statuses', async (t) => {
  t.strictSame(rows.map(([c]) => c).sort(), Object.keys(TUNNEL_ERRORS).sort());
  for (const [code, status] of rows) {
    if (code === 'IDLE_TIMEOUT') continue; // audited on a relay that already answered: no status of its own
    t.equal(status, String(TUNNEL_ERRORS[code as keyof typeof TUNNEL_ERRORS].status), code);
  }
});

t.test('pass-through codes agree with dnat and the RESET table', async (t) => {
  for (const [code, status] of Object.entries(MISS_STATUS)) t.equal(TUNNEL_ERRORS[code as keyof typeof TUNNEL_ERRORS]?.status, status, code);
  for (const [code, status] of Object.entries(RESET_STATUS)) t.equal(TUNNEL_ERRORS[code as keyof typeof TUNNEL_ERRORS]?.status, status, code);
});

t.test('README names every /debug/tunnels field of TunnelInfo', async (t) => {
  const src = readFileSync(new URL('../src/agents/registry.ts', import.meta.url), 'utf8');
  const body = src.slice(src.indexOf('export interface TunnelInfo'), src.indexOf('}', src.indexOf('export interface TunnelInfo')));
  const fields = [...body.matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]!);
  t.ok(fields.length >= 10, `fields found: ${fields.join(', ')}`);
  const para = readme.slice(readme.indexOf('`/debug/tunnels` ('), readme.indexOf('`/debug/config`'));
  for (const f of fields) t.match(para, `\`${f}\``, `/debug/tunnels documents ${f}`);
  t.match(para, '`connected: false`', 'documents nodes without a session');
  // the /debug/tunnels section shows a session-less node's whole entry: exactly what tunnelInfo gives
  const section = readme.slice(readme.indexOf('## /debug/tunnels'), readme.indexOf('### ', readme.indexOf('## /debug/tunnels')));
  const shown = /A node without a session is\s+`\{ ([^}]+) \}`/.exec(section);
  t.ok(shown, 'the /debug/tunnels section shows the entry of a node without a session');
  const entry = tunnelInfo({ name: 'edge-gone', ips: ['10.0.0.9'], session: undefined } as never);
  t.same(
    shown?.[1]!.split(', ').map((f) => f.split(':')[0]),
    Object.keys(entry),
  );
  t.equal(entry.connected, false);
});
