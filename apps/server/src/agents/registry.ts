// The live agent sessions, keyed by node through dnat's NodeTable. A newer session for a node
// replaces the older one, which is then drained (its open streams finish) and closed.
import { NodeTable } from '@edge-tunnel/dnat';
import type { AgentPorts, NodeInfo, PortCeiling } from '@edge-tunnel/dnat';
import type { Session, resume } from '@edge-tunnel/framing';

type ResumableLink = resume.ResumableLink;

/** One attached agent: its session and what its certificate and hello established. */
export interface AgentSession {
  readonly sessionId: string;
  readonly nodeName: string;
  readonly nodeIps: readonly string[];
  readonly agentVersion: string;
  readonly remoteAddress: string;
  /** 'tls' (the agent port) or 'websocket' (--agent-ws-addr); absent: tls */
  readonly transport?: 'tls' | 'websocket';
  readonly connectedAt: number;
  readonly session: Session;
  /** the resumable link under the session (absent: resumption not negotiated) */
  readonly resume?: AgentResume;
  /** the ceilings the hello announced (absent: an older agent, or none announced) */
  readonly portCeiling?: PortCeiling;
  /** what the port announcer told it and what its ceiling refuses (mutable) */
  readonly ports: { rev?: number; refused?: AgentPorts };
  /** the client certificate's notBefore (ms) and serial: a newcomer replaces this session only with a certificate at least as new */
  readonly certNotBefore?: number;
  readonly certSerial?: string;
}

/** A resumable session's link and its resume history (per node on /debug/tunnels). */
export interface AgentResume {
  readonly link: ResumableLink;
  attempted: number;
  succeeded: number;
  refused: number;
  bytesReplayed: number;
  streamsCarried: number;
  lastResumeMs?: number;
}

/** The JSON /debug/tunnels shows per node. */
export interface TunnelInfo {
  nodeName: string;
  nodeIps: readonly string[];
  /** a session is attached and has its connection (false while paused for a resume) */
  connected: boolean;
  sessionId?: string;
  agentVersion?: string;
  remoteAddress?: string;
  transport?: string;
  ageMs?: number;
  rttMs?: number;
  openStreams?: number;
  bytesIn?: number;
  bytesOut?: number;
  /** the agent follows the server's port config (its session takes CONFIG frames) */
  followsPortConfig?: boolean;
  /** the port config revision last sent to it */
  portConfigRev?: number;
  /** configured ports its ceiling refuses (range text), when any */
  refusedPorts?: { node: string; localhost: string };
  /** resumption, when negotiated: paused now, and the resumes of this session */
  resume?: {
    paused: boolean;
    pausedMs?: number;
    attempted: number;
    succeeded: number;
    refused: number;
    bytesReplayed: number;
    streamsCarried: number;
    unackedBytes: number;
    lastResumeMs?: number;
  };
}

export class AgentRegistry {
  readonly table = new NodeTable<AgentSession>();
  readonly #listeners = new Set<() => void>();
  readonly #ends = new Set<(agent: AgentSession) => void>();

  /** Makes `agent` live for its node; returns the session it replaced, if any. */
  attach(agent: AgentSession): AgentSession | undefined {
    const replaced = this.table.attach(agent.nodeName, agent, agent.nodeIps);
    this.changed();
    if (replaced !== undefined && replaced !== agent) this.ended(replaced);
    return replaced;
  }

  /** Clears the node's session if it is still `agent`; true when it was. */
  detach(agent: AgentSession): boolean {
    const detached = this.table.detach(agent.nodeName, agent);
    if (detached) this.changed();
    this.ended(agent);
    return detached;
  }

  /** Calls `listener` with every session that stops being its node's (replaced, closed, node removed). */
  onSessionEnd(listener: (agent: AgentSession) => void): () => void {
    this.#ends.add(listener);
    return () => void this.#ends.delete(listener);
  }

  /** Tells the onSessionEnd listeners; a subclass that drops sessions from the table itself calls it too. */
  protected ended(agent: AgentSession): void {
    for (const listener of this.#ends) listener(agent);
  }

  /** Calls `listener` after every change of the node table (nodes, IPs, sessions); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Tells the onChange listeners; a subclass that writes the table itself calls it too. */
  protected changed(): void {
    for (const listener of this.#listeners) listener();
  }

  get(nodeName: string): AgentSession | undefined {
    return this.table.sessionOf(nodeName);
  }

  /** Attached sessions, by node name. */
  sessions(): AgentSession[] {
    return this.table.nodes().flatMap((n) => (n.session ? [n.session] : []));
  }

  count(): number {
    return this.sessions().length;
  }

  tunnels(): TunnelInfo[] {
    return this.table.nodes().map(tunnelInfo);
  }
}

/** What /debug/tunnels shows of one node. */
export function tunnelInfo(node: NodeInfo<AgentSession>): TunnelInfo {
  const a = node.session;
  if (a === undefined) return { nodeName: node.name, nodeIps: node.ips, connected: false };
  const stats = a.session.stats();
  return {
    nodeName: node.name,
    nodeIps: node.ips,
    // a paused session (its connection lost, waiting for a resume) has no connection
    connected: a.resume === undefined || !a.resume.link.paused,
    sessionId: a.sessionId,
    agentVersion: a.agentVersion,
    remoteAddress: a.remoteAddress,
    transport: a.transport ?? 'tls',
    ageMs: stats.ageMs,
    ...(stats.rttMs !== undefined ? { rttMs: Math.round(stats.rttMs * 1000) / 1000 } : {}),
    openStreams: stats.streams,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut,
    followsPortConfig: a.session.peerTakesConfig,
    ...(a.ports.rev !== undefined ? { portConfigRev: a.ports.rev } : {}),
    ...(a.ports.refused ? { refusedPorts: { node: a.ports.refused.node.toString(), localhost: a.ports.refused.localhost.toString() } } : {}),
    ...(a.resume ? { resume: resumeInfo(a.resume) } : {}),
  };
}

function resumeInfo(r: AgentResume): NonNullable<TunnelInfo['resume']> {
  const link = r.link.stats();
  return {
    paused: link.paused,
    ...(link.pausedAt !== undefined ? { pausedMs: Date.now() - link.pausedAt } : {}),
    attempted: r.attempted,
    succeeded: r.succeeded,
    refused: r.refused,
    bytesReplayed: r.bytesReplayed,
    streamsCarried: r.streamsCarried,
    unackedBytes: link.unacked,
    ...(r.lastResumeMs !== undefined ? { lastResumeMs: r.lastResumeMs } : {}),
  };
}
