// What an agent may be asked for, as the server tells it over the session (a framing CONFIG frame):
// the ports of the port config it dials on its node IPs and on 127.0.0.1. And the agent's ceiling,
// as its hello tells the server, so that the server can say which configured ports the agent refuses.
import { DnatError, DnatErrorCode } from './errors.js';
import type { PortConfig } from './port-config.js';
import { PortSet } from './port-set.js';

/** The `kind` of the CONFIG message that carries an agent's ports. */
export const AGENT_PORTS_KIND = 'ports';

/** Ports an agent may be asked for (besides the kubelet's 10250/10255, always allowed on node IPs). */
export interface AgentPorts {
  /** dialed on the node's IPs: http + https ports that are not localhost ports */
  readonly node: PortSet;
  /** dialed on 127.0.0.1: localhost-proxy-ports */
  readonly localhost: PortSet;
}

/** The CONFIG message: `{ kind: 'ports', rev, node, localhost }` with port sets in wire text. */
export interface AgentPortsMessage {
  kind: typeof AGENT_PORTS_KIND;
  /** increases with every change the server applies (an agent logs it; order is the session's) */
  rev: number;
  node: string;
  localhost: string;
  [key: string]: unknown;
}

/** The node's share of a port config (the config is the same for every node today). */
export function agentPortsOf(config: PortConfig): AgentPorts {
  const node: number[] = [];
  for (const p of config.httpPorts) if (!config.localhostPorts.has(p)) node.push(p);
  for (const p of config.httpsPorts) if (!config.localhostPorts.has(p)) node.push(p);
  return { node: PortSet.of(node), localhost: PortSet.of(config.localhostPorts) };
}

export function agentPortsMessage(ports: AgentPorts, rev: number): AgentPortsMessage {
  return { kind: AGENT_PORTS_KIND, rev, node: ports.node.encode(), localhost: ports.localhost.encode() };
}

/**
 * Reads a CONFIG message: undefined when it is of another kind (an agent ignores kinds it does not
 * know); throws ERR_DNAT_INVALID_PORT_SET when a ports message is malformed.
 */
export function parseAgentPortsMessage(msg: Record<string, unknown>): (AgentPorts & { rev: number }) | undefined {
  if (msg['kind'] !== AGENT_PORTS_KIND) return undefined;
  const rev = msg['rev'];
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 0) {
    throw new DnatError(DnatErrorCode.INVALID_PORT_SET, 'invalid ports message: rev must be a non-negative integer');
  }
  return { rev, node: PortSet.parse(msg['node'] as string), localhost: PortSet.parse(msg['localhost'] as string) };
}

/** The agent's ceilings, as its hello carries them (`portCeiling: { node, localhost }`, range text). */
export interface PortCeiling {
  /** node-IP ports the agent ever dials (besides the kubelet's): its --allow-ports, or every port */
  readonly node: PortSet;
  /** 127.0.0.1 ports it ever dials: its --localhost-ports (none when unset) */
  readonly localhost: PortSet;
}

export function portCeilingHello(ceiling: PortCeiling): { node: string; localhost: string } {
  return { node: ceiling.node.toString(), localhost: ceiling.localhost.toString() };
}

/** The ceiling of a hello's `portCeiling`, or undefined when absent or malformed (then unknown). */
export function parsePortCeiling(value: unknown): PortCeiling | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  try {
    return { node: PortSet.parse(v['node'] as string), localhost: PortSet.parse(v['localhost'] as string) };
  } catch {
    return undefined;
  }
}

/** Configured ports the ceiling refuses. */
export function refusedByCeiling(ports: AgentPorts, ceiling: PortCeiling): AgentPorts {
  return { node: ports.node.minus(ceiling.node), localhost: ports.localhost.minus(ceiling.localhost) };
}
