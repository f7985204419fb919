// Queries, serialisation and diffing of a PortConfig.
import { BUILT_IN_PORTS, Channel, ConfigKey } from './constants.js';
import { DnatError, DnatErrorCode } from './errors.js';
import { makePortConfig, parsePortConfig } from './port-config.js';
import { RejectCode } from './reject.js';
import type { PortConfig } from './port-config.js';

/** The JSON form of a PortConfig (sorted arrays), as shown on /debug/config. */
export interface PortConfigJSON {
  httpPorts: number[];
  httpsPorts: number[];
  localhostPorts: number[];
}

/** A port entering or leaving a channel. */
export interface PortChange {
  readonly port: number;
  readonly channel: Channel;
}

/** What changed between two configs; both lists sorted by port (a port moving channel is in both). */
export interface PortConfigDiff {
  added: PortChange[];
  removed: PortChange[];
}

/** A config with no configured ports: only the built-in 10250 (HTTPS) and 10255 (HTTP) route. */
export const EMPTY_PORT_CONFIG: PortConfig = makePortConfig([], [], []);

/** The channel of `port`: built-in 10250 → https, 10255 → http, then the configured ports. */
export function channelOf(config: PortConfig, port: number): Channel | undefined {
  const builtIn = BUILT_IN_PORTS.get(port);
  if (builtIn !== undefined) return builtIn;
  if (config.httpPorts.has(port)) return Channel.HTTP;
  if (config.httpsPorts.has(port)) return Channel.HTTPS;
  return undefined;
}

/** True when the agent dials `port` on 127.0.0.1 instead of the node IP. */
export function isLocalhostPort(config: PortConfig, port: number): boolean {
  return config.localhostPorts.has(port);
}

export function portConfigToJSON(config: PortConfig): PortConfigJSON {
  return {
    httpPorts: [...config.httpPorts],
    httpsPorts: [...config.httpsPorts],
    localhostPorts: [...config.localhostPorts],
  };
}

/** Rebuild a config from its JSON form; throws `ERR_DNAT_INVALID_PORT_CONFIG` on anything invalid. */
export function portConfigFromJSON(json: unknown): PortConfig {
  if (typeof json !== 'object' || json === null) throw invalidJSON('not an object');
  const obj = json as Record<string, unknown>;
  const list = (field: keyof PortConfigJSON): string => {
    const value = obj[field] ?? [];
    if (!Array.isArray(value) || !value.every((n) => typeof n === 'number')) {
      throw invalidJSON(`${field} is not an array of numbers`);
    }
    return value.join(',');
  };
  const { config, rejected } = parsePortConfig({
    [ConfigKey.HTTP_PROXY_PORTS]: list('httpPorts'),
    [ConfigKey.HTTPS_PROXY_PORTS]: list('httpsPorts'),
    [ConfigKey.LOCALHOST_PROXY_PORTS]: list('localhostPorts'),
  });
  // A repeated number is redundant, not invalid: accept it as before (the sets merge it).
  const bad = rejected.filter((r) => r.code !== RejectCode.DUPLICATE_ENTRY);
  if (bad.length > 0) throw invalidJSON(bad.map((r) => r.reason).join(' '));
  return config;
}

function invalidJSON(why: string): DnatError {
  return new DnatError(DnatErrorCode.INVALID_PORT_CONFIG, `invalid JSON port config: ${why}`);
}

/** ConfigMap data that `parsePortConfig` turns back into `config` with nothing rejected. */
export function portConfigToData(config: PortConfig): Record<ConfigKey, string> {
  return {
    [ConfigKey.DNAT_PORTS_PAIR]: '',
    [ConfigKey.HTTP_PROXY_PORTS]: [...config.httpPorts].join(','),
    [ConfigKey.HTTPS_PROXY_PORTS]: [...config.httpsPorts].join(','),
    [ConfigKey.LOCALHOST_PROXY_PORTS]: [...config.localhostPorts].join(','),
  };
}

/** Configured ports added to or removed from each channel going from `a` to `b` (built-ins never appear). */
export function diffPortConfig(a: PortConfig, b: PortConfig): PortConfigDiff {
  return { added: changes(b, a), removed: changes(a, b) };
}

/** Entries of `from` that `to` does not have. */
function changes(from: PortConfig, to: PortConfig): PortChange[] {
  const out: PortChange[] = [];
  for (const port of from.httpPorts) if (!to.httpPorts.has(port)) out.push({ port, channel: Channel.HTTP });
  for (const port of from.httpsPorts) if (!to.httpsPorts.has(port)) out.push({ port, channel: Channel.HTTPS });
  return out.sort((x, y) => x.port - y.port);
}
