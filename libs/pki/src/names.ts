// Validation of the names and addresses that go into certificates. Bad input is rejected with a
// sentence naming the value, never silently dropped.
import { isIP } from 'node:net';
import { PkiError, PkiErrorCode } from './errors.js';

/** A DNS-1123 subdomain (what Kubernetes accepts as a node name), at most 253 characters. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A DNS name for a SAN: labels of letters, digits and hyphens, optionally a leading `*.`. */
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;
const MAX_DNS_LENGTH = 253;
/** X.520 upper bound for commonName and organizationName. */
const MAX_DN_VALUE_LENGTH = 64;

function invalid(message: string): PkiError {
  return new PkiError(PkiErrorCode.INVALID_OPTIONS, message);
}

export function checkNodeName(name: string): string {
  if (typeof name !== 'string' || name.length > MAX_DNS_LENGTH || !NODE_NAME.test(name)) {
    throw invalid(`node name ${JSON.stringify(name)} is not a valid Kubernetes node name (lower-case DNS subdomain)`);
  }
  if (name.length > MAX_DN_VALUE_LENGTH) {
    throw invalid(`node name ${JSON.stringify(name)} is longer than the ${MAX_DN_VALUE_LENGTH} characters a certificate CN allows`);
  }
  return name;
}

export function checkDnsName(name: string): string {
  if (typeof name !== 'string' || name.length > MAX_DNS_LENGTH || !DNS_NAME.test(name)) {
    throw invalid(`${JSON.stringify(name)} is not a valid DNS name for a certificate`);
  }
  return name;
}

/** A distinguished-name value (CN, O): 1–64 characters, no control characters. */
export function checkDnValue(field: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_DN_VALUE_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    throw invalid(`${field} ${JSON.stringify(value)} must be 1 to ${MAX_DN_VALUE_LENGTH} printable characters`);
  }
  return value;
}

/** Validates an IPv4 or IPv6 address and returns its canonical text form. */
export function normalizeIp(ip: string): string {
  const family = typeof ip === 'string' ? isIP(ip) : 0;
  if (family === 4) return ip;
  if (family === 6 && !ip.includes('%')) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  throw invalid(`${JSON.stringify(ip)} is not an IPv4 or IPv6 address`);
}

/** IP address bytes (4 or 16) as canonical text. */
export function ipFromBytes(bytes: ArrayLike<number>): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return normalizeIp(groups.join(':'));
}

/** Order-preserving de-duplication. */
export function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}
