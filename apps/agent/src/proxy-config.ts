// Which HTTP CONNECT proxy the agent dials through, read as curl and Go read it: --proxy wins; else
// https_proxy / HTTPS_PROXY from the environment, minus the hosts NO_PROXY / no_proxy names. Pure.
import { isIP } from 'node:net';
import { cidrList, inCidrList } from './cidr.js';
import { ConfigError } from './errors.js';
import type { HostPort } from './agent-flags.js';

export const DEFAULT_PROXY_TIMEOUT_MS = 10_000;
/** --proxy direct: ignore the environment's proxy. */
export const PROXY_DIRECT = 'direct';

export interface ProxyConfig {
  protocol: 'http' | 'https';
  host: string;
  port: number;
  /** the proxy as logged: scheme://host:port, never with credentials */
  display: string;
  /** where it came from: --proxy, https_proxy or HTTPS_PROXY */
  source: string;
  /** user:password from the environment's proxy URL (curl and Go accept it there); never logged */
  urlAuth?: string;
  /** file holding user:password for Basic proxy authentication (read on every dial) */
  authFile?: string;
  /** CA file for an https:// proxy's certificate (else the system's) */
  caFile?: string;
  /** NO_PROXY entries; they apply to the environment's proxy only (as Go) */
  noProxy: string[];
  /** the whole proxy phase: TCP (and TLS) to the proxy and its answer to CONNECT */
  timeoutMs: number;
}

export interface ProxyFlags {
  proxy?: string;
  authFile?: string;
  caFile?: string;
  timeoutMs: number;
}

/** The proxy to use, or undefined for direct dials. Throws ConfigError naming the flag or variable. */
export function proxyConfig(flags: ProxyFlags, env: Record<string, string | undefined>): ProxyConfig | undefined {
  const flag = flags.proxy?.trim();
  if (flag?.toLowerCase() === PROXY_DIRECT) return undefined;
  const fromEnv = flag ? undefined : envProxy(env);
  const text = flag || fromEnv?.value;
  if (!text) return undefined;
  const source = flag ? '--proxy' : fromEnv!.name;
  const parsed = parseProxyUrl(text, source);
  if (flag && parsed.urlAuth !== undefined) {
    throw new ConfigError('--proxy', '--proxy must not carry user:password (it would show in the process list): put them in --proxy-auth-file');
  }
  const noProxy = flag ? [] : splitNoProxy(env['no_proxy'] ?? env['NO_PROXY'] ?? '');
  return {
    ...parsed,
    source,
    noProxy,
    timeoutMs: flags.timeoutMs,
    ...(flags.authFile ? { authFile: flags.authFile } : {}),
    ...(flags.caFile ? { caFile: flags.caFile } : {}),
  };
}

/** curl reads the lower-case name first; Go the upper-case one. They agree whenever only one is set. */
function envProxy(env: Record<string, string | undefined>): { name: string; value: string } | undefined {
  for (const name of ['https_proxy', 'HTTPS_PROXY']) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

function parseProxyUrl(text: string, source: string): Omit<ProxyConfig, 'source' | 'noProxy' | 'timeoutMs'> {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(source, `${source} must be a proxy URL like http://proxy:3128, got "${redact(text)}"`);
  }
  const protocol = url.protocol.slice(0, -1).toLowerCase();
  if (protocol !== 'http' && protocol !== 'https') {
    throw new ConfigError(source, `${source}: only http:// and https:// (CONNECT) proxies are supported, got ${protocol}://`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new ConfigError(source, `${source} must be scheme://host:port with no path, got "${redact(text)}"`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : protocol === 'https' ? 443 : 80;
  const urlAuth = url.username || url.password ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined;
  const display = `${protocol}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  return { protocol, host, port, display, ...(urlAuth !== undefined ? { urlAuth } : {}) };
}

/** The URL with any user:password replaced, for error messages. */
export function redact(text: string): string {
  return text.replace(/\/\/[^@/]*@/, '//***@');
}

function splitNoProxy(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/**
 * True when NO_PROXY says `target` is dialed directly: `*`; an IP or CIDR; a host name matching
 * exactly or as a parent domain (`example.com` and `.example.com` both match `a.example.com`);
 * each optionally with `:port`. Like curl, and unlike Go, localhost is not bypassed implicitly.
 */
export function bypassesProxy(noProxy: readonly string[], target: HostPort): boolean {
  const host = target.host.toLowerCase().replace(/\.$/, '');
  for (const raw of noProxy) {
    if (raw === '*') return true;
    const { entry, port } = splitEntry(raw);
    if (port !== undefined && port !== target.port) continue;
    if (entry.includes('/')) {
      if (inCidr(entry, host)) return true;
    } else if (isIP(entry) !== 0) {
      if (entry === host) return true;
    } else {
      const domain = entry.replace(/^\*?\./, '');
      if (domain !== '' && (host === domain || host.endsWith(`.${domain}`))) return true;
    }
  }
  return false;
}

/** `[v6]:port`, `[v6]`, a bare IPv6 address or CIDR (no port), else `host-or-v4[:port]`. */
function splitEntry(raw: string): { entry: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
  if (bracketed) return { entry: bracketed[1]!, ...(bracketed[2] ? { port: Number(bracketed[2]) } : {}) };
  if ((raw.match(/:/g) ?? []).length > 1) return { entry: raw };
  const m = /^(.*):(\d+)$/.exec(raw);
  return m ? { entry: m[1]!, port: Number(m[2]) } : { entry: raw };
}

function inCidr(cidr: string, host: string): boolean {
  try {
    return inCidrList(cidrList([cidr]), host);
  } catch {
    return false; // a NO_PROXY entry that is not a CIDR matches nothing
  }
}
