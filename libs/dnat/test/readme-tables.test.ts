// The README's tables say what the code does: the ConfigMap keys are CONFIG_KEYS (in the order they
// apply), the reject codes RejectCode, the miss reasons MISS_STATUS with their HTTP statuses, the
// thrown codes DnatErrorCode. A key, code or status added, renamed or dropped on one side fails here.
import t from 'tap';
import { firstColumnCodes, tableAfter } from '@edge-tunnel/doc-tables';
import { readFileSync } from 'node:fs';
import { CONFIG_KEYS, DnatErrorCode, MISS_STATUS, RejectCode } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const table = (heading: string): string[][] => tableAfter(readme, heading);
const codes = firstColumnCodes;

t.test('ConfigMap keys: exactly CONFIG_KEYS, in the order they apply', async (t) => {
  t.strictSame(codes(table('| key | entries | meaning |')), [...CONFIG_KEYS]);
  t.match(readme, /Keys apply in the order `dnat-ports-pair`, `http-proxy-ports`, `https-proxy-ports`,\s+`localhost-proxy-ports`/);
  t.strictSame([...CONFIG_KEYS], ['dnat-ports-pair', 'http-proxy-ports', 'https-proxy-ports', 'localhost-proxy-ports']);
});

t.test('Reject codes: exactly RejectCode', async (t) => {
  t.strictSame(codes(table('### Reject codes (`RejectCode`)')).sort(), Object.values(RejectCode).sort());
});

t.test('Miss reasons: exactly MISS_STATUS, with their HTTP statuses', async (t) => {
  const rows = table('### Miss reasons (`MissReason`)');
  t.strictSame(codes(rows).sort(), Object.keys(MISS_STATUS).sort());
  for (const r of rows) {
    const reason = codes([r])[0] as keyof typeof MISS_STATUS;
    t.equal(Number(/^\d{3}/.exec(r[1]!)?.[0]), MISS_STATUS[reason], `${reason}: ${r[1]}`);
  }
});

t.test('Error codes: exactly DnatErrorCode', async (t) => {
  t.strictSame(codes(table('## Error codes')).sort(), Object.values(DnatErrorCode).sort());
});
