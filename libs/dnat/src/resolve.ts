// Resolve a destination (node IP or name, port) arriving on a channel to an agent session and target.
import { CHANNEL_LISTENER_PORT, CONFIG_MAP, Channel, ConfigKey, Ports, isPortNumber } from './constants.js';
import { normalizeIp, normalizeNodeName } from './ip.js';
import type { NodeInfo, NodeTable } from './node-table.js';
import { channelOf, isLocalhostPort } from './port-config-ops.js';
import type { PortConfig } from './port-config.js';

/** Why a destination could not be resolved. */
export const MissReason = {
  /** no node has that IP or name */
  NODE_UNKNOWN: 'NODE_UNKNOWN',
  /** the node is known but no agent session is attached */
  NO_TUNNEL: 'NO_TUNNEL',
  /** the port is neither built in nor configured */
  PORT_NOT_CONFIGURED: 'PORT_NOT_CONFIGURED',
  /** an HTTP port requested on the HTTPS listener or vice versa */
  WRONG_CHANNEL: 'WRONG_CHANNEL',
  /** addressed by name, but the node has no IP (and the port is not a localhost port) */
  NODE_NO_ADDRESS: 'NODE_NO_ADDRESS',
} as const;
export type MissReason = (typeof MissReason)[keyof typeof MissReason];

/** The HTTP status a caller answers with for each miss reason. */
export const MISS_STATUS: Readonly<Record<MissReason, number>> = Object.freeze({
  NODE_UNKNOWN: 502,
  NO_TUNNEL: 503,
  PORT_NOT_CONFIGURED: 403,
  WRONG_CHANNEL: 421,
  NODE_NO_ADDRESS: 502,
});

export interface Resolution<S> {
  readonly ok: true;
  readonly nodeName: string;
  readonly session: S;
  readonly channel: Channel;
  /** the node IP named, the node's first IP when addressed by name, or 127.0.0.1 for localhost ports */
  readonly targetHost: string;
  readonly targetPort: number;
}

export interface Miss {
  readonly ok: false;
  readonly reason: MissReason;
  readonly status: number;
  /** a sentence naming the node or host and the port */
  readonly message: string;
}

export const LOCALHOST = '127.0.0.1';

/**
 * Checks run in this order, so configuration answers (403, 421) never depend on agent state and do
 * not reveal which nodes exist: PORT_NOT_CONFIGURED, WRONG_CHANNEL, NODE_UNKNOWN, NO_TUNNEL,
 * NODE_NO_ADDRESS.
 */
export function resolve<S>(table: NodeTable<S>, config: PortConfig, dest: { host: string; port: number }, channel: Channel): Resolution<S> | Miss {
  const { host, port } = dest;
  const portChannel = isPortNumber(port) ? channelOf(config, port) : undefined;
  if (portChannel === undefined) return notConfigured(host, port);
  if (portChannel !== channel) return wrongChannel(host, port, portChannel, channel);
  const found = findNode(table, host);
  if (found === undefined) return miss('NODE_UNKNOWN', `no edge node has IP or name ${host} (port ${port}).`);
  const { node, ip } = found;
  if (node.session === undefined) {
    return miss(
      'NO_TUNNEL',
      `edge node ${node.name} has no connected tunnel agent, so port ${port} ` + `on ${host} cannot be reached until its agent connects.`,
    );
  }
  const targetHost = isLocalhostPort(config, port) ? LOCALHOST : (ip ?? node.ips[0]);
  if (targetHost === undefined) {
    return miss(
      'NODE_NO_ADDRESS',
      `edge node ${node.name} was addressed by name but has no known IP, ` +
        `so port ${port} cannot be dialled; address it by IP or wait for its Node addresses.`,
    );
  }
  return { ok: true, nodeName: node.name, session: node.session, channel, targetHost, targetPort: port };
}

function findNode<S>(table: NodeTable<S>, host: string): { node: NodeInfo<S>; ip?: string } | undefined {
  const ip = normalizeIp(host);
  if (ip !== undefined) {
    const node = table.byIp(ip);
    return node === undefined ? undefined : { node, ip };
  }
  const name = normalizeNodeName(host);
  const node = name === undefined ? undefined : table.get(name);
  return node === undefined ? undefined : { node };
}

function miss(reason: MissReason, message: string): Miss {
  return { ok: false, reason, status: MISS_STATUS[reason], message };
}

function notConfigured(host: string, port: number): Miss {
  return miss(
    'PORT_NOT_CONFIGURED',
    `port ${port} on ${host} is not configured for the tunnel; add it to ` +
      `${ConfigKey.DNAT_PORTS_PAIR} ('${port}=${Ports.SERVER_HTTP}') or ${ConfigKey.HTTP_PROXY_PORTS} for ` +
      `HTTP, or to ${ConfigKey.HTTPS_PROXY_PORTS} for HTTPS, in ConfigMap ${CONFIG_MAP}.`,
  );
}

function wrongChannel(host: string, port: number, portChannel: Channel, channel: Channel): Miss {
  return miss(
    'WRONG_CHANNEL',
    `port ${port} on ${host} is an ${portChannel.toUpperCase()} port: send it ` +
      `to the ${portChannel.toUpperCase()} listener :${CHANNEL_LISTENER_PORT[portChannel]}, not the ` +
      `${channel.toUpperCase()} listener :${CHANNEL_LISTENER_PORT[channel]}.`,
  );
}
