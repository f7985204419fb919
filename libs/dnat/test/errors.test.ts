import t from 'tap';
import { DnatError, DnatErrorCode } from '../src/index.js';

t.test('DnatError carries a stable code and the cause', async (t) => {
  const cause = new Error('inner');
  const err = new DnatError(DnatErrorCode.INVALID_IP, 'bad ip', { cause });
  t.ok(err instanceof Error);
  t.equal(err.name, 'DnatError');
  t.equal(err.code, 'ERR_DNAT_INVALID_IP');
  t.equal(err.cause, cause);
  for (const code of Object.values(DnatErrorCode)) t.match(code, /^ERR_DNAT_[A-Z_]+$/);
});
