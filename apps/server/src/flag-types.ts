// The server's own flag value types (addresses, DNAT targets, replicas, caller rules, shares), for
// the table in config-flags.ts. Each says what it expects; @edge-tunnel/flags words the error.
import { isIP } from 'node:net';
import { SEMICOLON, custom, list, listOf, reject, type ListType, type ScalarType } from '@edge-tunnel/flags';
import { formatAddr, parseAddr, type ListenAddr } from './addr.js';
import type { Replica } from './agents/replicas.js';
import { parseCallerAllow, type CallerRule } from './proxy/caller-auth.js';
import type { ListenerName } from './proxy/context.js';
import { CaptureMode, type IpPort } from './server-config.js';

/** Kubernetes object and node names: a lower-case DNS subdomain. */
export const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** One selector term list as kubectl -l takes it: `k=v`, `k!=v`, `k in (a,b)`, `k`, `!k`, comma-joined. */
const LABEL_SELECTOR = /^[A-Za-z0-9!][A-Za-z0-9_./=!,() -]*$/;
const LISTENERS: readonly ListenerName[] = ['https', 'http', 'connect'];

/** `host:port`, `:port` (every address) or `[v6]:port`. */
export function listenAddr(): ScalarType<ListenAddr> {
  return custom('host:port, :port or [ipv6]:port (port 0..65535)', (t) => {
    try {
      return parseAddr(t, '');
    } catch {
      return reject(t);
    }
  });
}

/** `host:port` with a host and a non-zero port: an address to dial, not to listen on. */
function dialable(t: string): string | undefined {
  try {
    const a = parseAddr(t, '');
    return a.host === '' || a.port === 0 ? undefined : formatAddr(a);
  } catch {
    return undefined;
  }
}

export function dialAddr(): ScalarType<string> {
  return custom('a dialable host:port (no wildcard host, no port 0)', (t) => dialable(t) ?? reject(t));
}

/** The DNAT target of a channel: an IPv4 address and a port. */
export function ipPort(): ScalarType<IpPort> {
  return custom('an IPv4 address and port such as 10.0.0.10:10263', (t) => {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(t);
    const port = m ? Number(m[2]) : NaN;
    return m && isIP(m[1]!) === 4 && port >= 1 && port <= 65535 ? { ip: m[1]!, port } : reject(t);
  });
}

export function captureMode(): ScalarType<CaptureMode> {
  return custom(`one of ${Object.keys(CaptureMode).join(', ')}`, (t) => (Object.hasOwn(CaptureMode, t) ? (t as CaptureMode) : reject(t)));
}

export function ipv4s(): ListType<string[]> {
  return list('IPv4 addresses (IPv6 cannot be captured)', (t) => (isIP(t) === 4 ? t : reject(t)));
}

export function nodeNames(): ListType<string[]> {
  return list('node names', (t) => (DNS_NAME.test(t) ? t : reject(t)));
}

/** Label selectors; a comma inside one means AND (kubectl -l), so only `;` separates them. */
export function labelSelectors(): ListType<string[]> {
  return list('a label selector such as key=value', (t) => (LABEL_SELECTOR.test(t) ? t : reject(t)), SEMICOLON);
}

/** `id=host:port` or `host:port` (then the address is the id). */
export function replicas(): ListType<Replica[]> {
  return list('replicas host:port or id=host:port', (t): Replica => {
    const eq = t.indexOf('=');
    const addr = dialable(eq < 0 ? t : t.slice(eq + 1)) ?? reject(t, 'not a dialable host:port');
    const id = eq < 0 ? addr : t.slice(0, eq).trim();
    return id === '' ? reject(t, 'empty replica id') : { id, addr };
  });
}

/** `name:<CN>` / `group:<O>`; an edge node identity is refused as an entry. */
export function callerRules(): ListType<CallerRule[]> {
  return listOf('name:<CN> or group:<O> entries', (items) => {
    for (const item of items) {
      try {
        parseCallerAllow([item]);
      } catch (err) {
        reject(item, /edge node identities/.test((err as Error).message) ? 'an edge node identity may never act as a caller' : undefined);
      }
    }
    return parseCallerAllow(items);
  });
}

/** `http=25;connect=25`: a percentage per listener. */
export function listenerShares(): ListType<Partial<Record<ListenerName, number>>> {
  return listOf(`<listener>=<percent> with listener ${LISTENERS.join(', ')} and percent 1 to 100`, (items) => {
    const out: Partial<Record<ListenerName, number>> = {};
    for (const item of items) {
      const m = /^(\w+)=(\d{1,3})$/.exec(item);
      if (!m || !LISTENERS.includes(m[1] as ListenerName) || Number(m[2]) < 1 || Number(m[2]) > 100) reject(item);
      out[m[1] as ListenerName] = Number(m[2]);
    }
    return out;
  });
}
