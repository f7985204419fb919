// Parse a destination as found in a Host header, an X-Tunnel-Proxy-Dest header or a CONNECT target.
import { isPortNumber } from './constants.js';
import { normalizeIp, normalizeNodeName } from './ip.js';

/** A destination: a canonical IP (IPv6 without brackets) or a lower-case name, and a port. */
export interface Dest {
  readonly host: string;
  readonly port: number;
}

const PORT_TEXT = /^[0-9]{1,5}$/;

/**
 * `10.0.0.5:10250`, `[fd00::5]:10250`, `edge-1:10250`, or a host alone (`edge-1`, `[fd00::5]`, and
 * `fd00::5` since an unbracketed IPv6 address cannot carry a port) with `defaultPort`. Returns
 * undefined for anything else: garbage, a bad port, a host alone without a valid `defaultPort`.
 * An empty port (`edge-1:`) means the default port, as in URLs.
 */
export function parseDest(hostHeader: string, defaultPort?: number): Dest | undefined {
  if (typeof hostHeader !== 'string') return undefined;
  const text = hostHeader.trim();
  const split = splitHostPort(text);
  if (split === undefined) return undefined;
  const host = split.bracketed ? normalizeIp(split.host) : normalizeHost(split.host);
  const port = split.port === '' ? defaultPort : PORT_TEXT.test(split.port) ? Number(split.port) : NaN;
  if (host === undefined || !isPortNumber(port)) return undefined;
  return { host, port };
}

interface HostPort {
  host: string;
  port: string;
  bracketed: boolean;
}

function splitHostPort(text: string): HostPort | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    const rest = text.slice(close + 1);
    if (close < 0 || (rest !== '' && !rest.startsWith(':'))) return undefined;
    return { host: text.slice(0, close + 1), port: rest.slice(1), bracketed: true };
  }
  const colons = text.split(':').length - 1;
  if (colons > 1) return { host: text, port: '', bracketed: false };
  const [host = '', port = ''] = text.split(':');
  return { host, port, bracketed: false };
}

/** An IPv4/IPv6 address or a node name (RFC 1123, case-insensitive, one trailing dot allowed). */
function normalizeHost(host: string): string | undefined {
  const ip = normalizeIp(host);
  if (ip !== undefined) return ip;
  return normalizeNodeName(host.endsWith('.') ? host.slice(0, -1) : host);
}
