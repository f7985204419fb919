// Validation and normalisation of node IPs and node names (pure: no DNS, no sockets).
import { isIPv4, isIPv6 } from 'node:net';
import { DnatError, DnatErrorCode } from './errors.js';

const MAX_NODE_NAME = 253;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The canonical form of an IP address, or undefined when `input` is not one. IPv4 is kept as is
 * (leading zeros are rejected); IPv6 may come with brackets and is returned without them, lower-case
 * and zero-compressed (RFC 5952), so `[FD00:0::5]` and `fd00::5` are the same key. Zone ids
 * (`fe80::1%eth0`) are rejected: node addresses never carry them.
 */
export function normalizeIp(input: string): string | undefined {
  if (typeof input !== 'string') return undefined;
  const bare = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare) || bare.includes('%')) return undefined;
  return new URL(`http://[${bare}]`).hostname.slice(1, -1);
}

/** The canonical (lower-case) node name, or undefined when `input` is not an RFC 1123 subdomain. */
export function normalizeNodeName(input: string): string | undefined {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_NODE_NAME) return undefined;
  const name = input.toLowerCase();
  return DNS1123_SUBDOMAIN.test(name) ? name : undefined;
}

/** Like `normalizeIp`, but throws `ERR_DNAT_INVALID_IP`. */
export function requireIp(input: string, nodeName: string): string {
  const ip = normalizeIp(input);
  if (ip !== undefined) return ip;
  throw new DnatError(DnatErrorCode.INVALID_IP, `invalid IP ${JSON.stringify(input)} for node ${nodeName}: expected an IPv4 or IPv6 address`);
}

/** Like `normalizeNodeName`, but throws `ERR_DNAT_INVALID_NODE_NAME`. */
export function requireNodeName(input: string): string {
  const name = normalizeNodeName(input);
  if (name !== undefined) return name;
  throw new DnatError(
    DnatErrorCode.INVALID_NODE_NAME,
    `invalid node name ${JSON.stringify(input)}: expected an RFC 1123 subdomain ` + `(a-z, 0-9, '-', '.'; at most ${MAX_NODE_NAME} characters)`,
  );
}
