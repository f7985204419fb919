// Certificates, keys and CAs are given as PEM file paths (CLI) or as PEM text (tests, embedding).
import { readFileSync } from 'node:fs';
import { ServerError, ServerErrorCode } from './errors.js';

/** PEM text as given, or the contents of the file it names; throws ERR_SERVER_TLS_MATERIAL. */
export function pem(value: string, what: string): string {
  if (value.includes('-----BEGIN')) return value;
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    throw new ServerError(ServerErrorCode.TLS_MATERIAL, `${what} file ${value} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!text.includes('-----BEGIN')) throw new ServerError(ServerErrorCode.TLS_MATERIAL, `${what} file ${value} holds no PEM data`);
  return text;
}

export function optionalPem(value: string | undefined, what: string): string | undefined {
  return value === undefined ? undefined : pem(value, what);
}
