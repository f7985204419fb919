// PEM files on disk: `<name>.crt` (0644) and `<name>.key` (0600). Writes go through a temporary file
// and a rename, so a reader (or a rotating agent) never sees half a file.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PkiError, PkiErrorCode } from './errors.js';

/** A certificate and, optionally, its private key. */
export interface PemPair {
  certPem: string;
  keyPem?: string;
}

export interface PemPaths {
  certPath: string;
  /** Absent when no key was written. */
  keyPath?: string;
}

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;
const DIR_MODE = 0o755;

const CERT_MARKER = '-----BEGIN CERTIFICATE-----';
const KEY_MARKER = /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have narrowed or widened nothing; make it exact
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new PkiError(PkiErrorCode.FILE_IO, `could not write ${path}`, { cause: err });
  }
}

/** Writes `<dir>/<name>.crt` and, when `cert.keyPem` is set, `<dir>/<name>.key`; creates `dir`. */
export async function writePemFiles(dir: string, name: string, cert: PemPair): Promise<PemPaths> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (err) {
    throw new PkiError(PkiErrorCode.FILE_IO, `could not create directory ${dir}`, { cause: err });
  }
  const certPath = join(dir, `${name}.crt`);
  await writeAtomic(certPath, cert.certPem, CERT_MODE);
  if (cert.keyPem === undefined) return { certPath };
  const keyPath = join(dir, `${name}.key`);
  await writeAtomic(keyPath, cert.keyPem, KEY_MODE);
  return { certPath, keyPath };
}

async function readPem(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? PkiErrorCode.FILE_NOT_FOUND : PkiErrorCode.FILE_IO;
    throw new PkiError(code, code === PkiErrorCode.FILE_NOT_FOUND ? `${path} does not exist` : `could not read ${path}`, { cause: err });
  }
}

/** Reads `<dir>/<name>.crt` and `<dir>/<name>.key` and checks that each looks like the right PEM. */
export async function readPemFiles(dir: string, name: string): Promise<{ certPem: string; keyPem: string }> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const [certPem, keyPem] = await Promise.all([readPem(certPath), readPem(keyPath)]);
  if (!certPem.includes(CERT_MARKER)) {
    throw new PkiError(PkiErrorCode.INVALID_CERT, `${certPath} does not contain a PEM certificate`);
  }
  if (!KEY_MARKER.test(keyPem)) {
    throw new PkiError(PkiErrorCode.INVALID_KEY, `${keyPath} does not contain a PEM private key`);
  }
  return { certPem, keyPem };
}
