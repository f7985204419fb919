// Tells every attached agent that follows port config (its session takes framing CONFIG frames) the
// ports it may be asked for: at attach, and on every change of the port config source. One message
// per change, encoded once and written to every session. The agent's hello ceiling says which of
// them it will refuse: kept per agent for /debug/tunnels and the proxy's 403 AGENT_CEILING, and
// reported (warn line, and an Event on the Node in cluster mode) whenever it changes.
import { agentPortsMessage, agentPortsOf, refusedByCeiling } from '@edge-tunnel/dnat';
import type { AgentPorts } from '@edge-tunnel/dnat';
import { encodeConfig } from '@edge-tunnel/framing';
import type { Logger } from '../logger.js';
import type { PortConfigSource, PortConfigState } from '../port-config-source.js';
import type { AgentSession } from './registry.js';

/** Per-node warn lines per change at most; the rest are summed up in one line. */
const MAX_WARN_LINES = 20;

/** Called when a node's refused ports change to a non-empty set (cluster mode: an Event on the Node). */
export type RefusalSink = (nodeName: string, message: string) => void;

/** What an agent was told and what its ceiling refuses of it. */
export interface AgentPortState {
  rev: number;
  refused?: AgentPorts;
}

export class PortAnnouncer {
  private rev = 0;
  private payload: Buffer;
  private ports: AgentPorts;
  private readonly agents = new Set<AgentSession>();

  constructor(
    private readonly source: PortConfigSource,
    private readonly log: Logger,
    private readonly onRefused?: RefusalSink,
  ) {
    this.ports = agentPortsOf(source.current().config);
    this.payload = this.encode();
    source.on('change', this.onChange);
  }

  /** An attached agent: told the current ports now if its session takes CONFIG (older agents never are). */
  attach(agent: AgentSession): void {
    if (!agent.session.peerTakesConfig) return;
    this.agents.add(agent);
    this.send(agent);
    const refused = this.refusalOf(agent);
    if (refused) this.warn(agent, refused);
  }

  detach(agent: AgentSession): void {
    this.agents.delete(agent);
  }

  close(): void {
    this.source.off('change', this.onChange);
  }

  /** How long the last change took to reach every session (encode + one write per session), in ms. */
  lastFanOutMs = 0;

  private readonly onChange = (state: PortConfigState): void => {
    const started = performance.now();
    const ports = agentPortsOf(state.config);
    if (ports.node.equals(this.ports.node) && ports.localhost.equals(this.ports.localhost)) return; // nothing an agent sees changed
    this.ports = ports;
    this.payload = this.encode();
    let warned = 0;
    const more: string[] = [];
    for (const agent of this.agents) {
      this.send(agent);
      const before = agent.ports.refused;
      const refused = this.refusalOf(agent);
      const changed = !sameRefusal(before, refused);
      if (!changed || !refused) continue;
      if (warned++ < MAX_WARN_LINES) this.warn(agent, refused);
      else more.push(agent.nodeName);
    }
    if (more.length > 0) {
      this.log.warn(
        { nodes: more.length, firstNodes: more.slice(0, 5), reason: 'more agents refuse configured ports: see /debug/tunnels refusedPorts' },
        'configured ports refused by agent ceilings',
      );
    }
    this.lastFanOutMs = performance.now() - started;
    this.log.info(
      {
        rev: this.rev,
        agents: this.agents.size,
        nodePorts: this.ports.node.size,
        localhostPorts: this.ports.localhost.size,
        durationMs: Math.round(this.lastFanOutMs * 10) / 10,
      },
      'port config sent to agents',
    );
  };

  private encode(): Buffer {
    return encodeConfig(agentPortsMessage(this.ports, ++this.rev));
  }

  private send(agent: AgentSession): void {
    try {
      agent.session.sendConfig(this.payload);
      agent.ports.rev = this.rev;
    } catch (err) {
      this.log.error({ nodeName: agent.nodeName, reason: (err as Error).message }, 'port config not sent');
    }
  }

  /** Stores and returns what the agent's ceiling refuses of the current ports (undefined: nothing, or unknown). */
  private refusalOf(agent: AgentSession): AgentPorts | undefined {
    const refused = agent.portCeiling ? refusedByCeiling(this.ports, agent.portCeiling) : undefined;
    agent.ports.refused = refused && refused.node.size + refused.localhost.size > 0 ? refused : undefined;
    return agent.ports.refused;
  }

  private warn(agent: AgentSession, refused: AgentPorts): void {
    const message = refusalSentence(agent, refused);
    this.log.warn(
      { nodeName: agent.nodeName, refusedPorts: refused.node.toString(), refusedLocalhostPorts: refused.localhost.toString(), reason: message },
      'configured ports refused by the agent ceiling',
    );
    this.onRefused?.(agent.nodeName, message);
  }
}

const clip = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

/** What the operator reads: which ports, which flag on which node, what to change. */
export function refusalSentence(agent: Pick<AgentSession, 'nodeName'>, refused: AgentPorts): string {
  const parts: string[] = [];
  if (refused.node.size > 0)
    parts.push(
      `node ports ${clip(refused.node.toString())} are above its --allow-ports ceiling (add them to EDGE_TUNNEL_ALLOW_PORTS on the node, or unset it to follow the port config)`,
    );
  if (refused.localhost.size > 0)
    parts.push(
      `localhost ports ${clip(refused.localhost.toString())} are above its --localhost-ports ceiling (add them to EDGE_TUNNEL_LOCALHOST_PORTS on the node)`,
    );
  return `the agent of edge node ${agent.nodeName} refuses configured ports: ${parts.join('; ')}, or remove them from the port config`;
}

function sameRefusal(a: AgentPorts | undefined, b: AgentPorts | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.node.equals(b.node) && a.localhost.equals(b.localhost);
}
