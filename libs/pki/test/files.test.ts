import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PkiErrorCode, readPemFiles, writePemFiles } from '../src/index.js';
import { testCas } from './fixtures/pki.js';

t.test('writePemFiles / readPemFiles round trip; key 0600, cert 0644; dir created', async (t) => {
  const { ca } = await testCas();
  const dir = join(t.testdir(), 'nested', 'pki');
  const paths = await writePemFiles(dir, 'ca', ca);
  t.same(paths, { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') });
  t.equal(statSync(paths.keyPath!).mode & 0o777, 0o600);
  t.equal(statSync(paths.certPath).mode & 0o777, 0o644);
  t.same(await readPemFiles(dir, 'ca'), ca);
  t.same(readdirSync(dir).sort(), ['ca.crt', 'ca.key'], 'no temporary files left behind');
});

t.test('writePemFiles overwrites, tightening a loose key mode; a cert alone writes no key', async (t) => {
  const { ca, foreignCa } = await testCas();
  const dir = t.testdir({ 'ca.key': 'old' });
  chmodSync(join(dir, 'ca.key'), 0o666);
  await writePemFiles(dir, 'ca', ca);
  t.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
  await writePemFiles(dir, 'ca', foreignCa);
  t.same(await readPemFiles(dir, 'ca'), foreignCa);
  t.same(await writePemFiles(dir, 'only-cert', { certPem: ca.certPem }), { certPath: join(dir, 'only-cert.crt') });
});

t.test('readPemFiles: missing files, wrong contents, unwritable places', async (t) => {
  const { ca } = await testCas();
  const dir = t.testdir({
    'half.crt': ca.certPem,
    'swapped.crt': ca.keyPem,
    'swapped.key': ca.keyPem,
    'nokey.crt': ca.certPem,
    'nokey.key': ca.certPem,
    file: 'x',
  });
  await t.rejects(readPemFiles(dir, 'absent'), { code: PkiErrorCode.FILE_NOT_FOUND });
  await t.rejects(readPemFiles(dir, 'half'), { code: PkiErrorCode.FILE_NOT_FOUND, message: /half\.key/ });
  await t.rejects(readPemFiles(dir, 'swapped'), { code: PkiErrorCode.INVALID_CERT });
  await t.rejects(readPemFiles(dir, 'nokey'), { code: PkiErrorCode.INVALID_KEY });
  await t.rejects(readPemFiles(join(dir, 'file'), 'x'), { code: PkiErrorCode.FILE_IO }, 'ENOTDIR');
  await t.rejects(writePemFiles(join(dir, 'file', 'sub'), 'x', ca), { code: PkiErrorCode.FILE_IO });
});
