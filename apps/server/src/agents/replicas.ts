// The replica set of a scaled-out server: every live replica with the address agents dial to reach
// it directly. The hello answer carries the whole set; changes reach connected agents as JSON lines
// (`{"replicas":[…]}`) on a control stream (kind 'replicas') the server opens on each session.
import { EventEmitter } from 'node:events';
import type { Session, Stream } from '@edge-tunnel/framing';

/** One server replica as agents see it. */
export interface Replica {
  id: string;
  /** host:port of this replica's agent listener, dialed directly by agents */
  addr: string;
}

/** Metadata of the control stream the server opens on each agent session. */
export const REPLICAS_STREAM = { host: 'edge-tunnel', port: 0, kind: 'replicas' } as const;

/** Where the replica set comes from: static (--peer-addr) or the Service's EndpointSlices (cluster mode). */
export interface ReplicaSource {
  current(): Replica[];
  on(event: 'change', listener: (replicas: Replica[]) => void): this;
  off(event: 'change', listener: (replicas: Replica[]) => void): this;
}

/** Sorted by address, this replica first among equals; ids kept as given. */
export function normalize(self: Replica, others: readonly Replica[]): Replica[] {
  const byAddr = new Map<string, Replica>();
  for (const r of others) if (r.addr !== self.addr) byAddr.set(r.addr, r);
  byAddr.set(self.addr, self);
  return [...byAddr.values()].sort((a, b) => a.addr.localeCompare(b.addr));
}

export const sameReplicas = (a: readonly Replica[], b: readonly Replica[]): boolean =>
  a.length === b.length && a.every((r, i) => r.id === b[i]!.id && r.addr === b[i]!.addr);

/** A replica set that changes only when set() is called: --peer-addr, or a membership watcher. */
export class ReplicaSet extends EventEmitter implements ReplicaSource {
  private list: Replica[];
  private others: readonly Replica[];

  constructor(
    private me: Replica,
    others: readonly Replica[] = [],
  ) {
    super();
    this.others = others;
    this.list = normalize(me, others);
  }

  get self(): Replica {
    return this.me;
  }

  /** Sets this replica's own entry (its address is known once the listener is bound). */
  setSelf(self: Replica): void {
    this.me = self;
    this.set(this.others);
  }

  current(): Replica[] {
    return this.list;
  }

  /** Replaces the other replicas; emits 'change' when the set differs. */
  set(others: readonly Replica[]): void {
    this.others = others;
    const next = normalize(this.me, others);
    if (sameReplicas(next, this.list)) return;
    this.list = next;
    this.emit('change', next);
  }
}

/**
 * Opens the control stream on each attached session once the set has more than this replica (a
 * lone server never opens one, so agents of a single server see no extra stream) and writes every
 * change of the set to it.
 */
export class ReplicaAnnouncer {
  private readonly sessions = new Set<Session>();
  private readonly streams = new Map<Session, Stream>();

  constructor(private readonly source: ReplicaSource) {
    source.on('change', (replicas) => {
      for (const session of this.sessions) {
        const stream = this.streams.get(session);
        if (stream) write(stream, replicas);
        else if (replicas.length > 1) this.open(session);
      }
    });
  }

  /** An attached session: it gets the control stream now or when a second replica appears. */
  announce(session: Session): void {
    this.sessions.add(session);
    if (this.source.current().length > 1) this.open(session);
  }

  /** A session closed (its owner tells: no listeners of our own on every session). */
  forget(session: Session): void {
    this.sessions.delete(session);
    this.streams.delete(session);
  }

  /** Ends the control stream of `session` (and opens none later) so that a drain does not wait for it. */
  end(session: Session): void {
    this.sessions.delete(session);
    const stream = this.streams.get(session);
    this.streams.delete(session);
    if (stream && stream.writable) stream.end();
  }

  endAll(): void {
    for (const session of [...this.sessions]) this.end(session);
  }

  private open(session: Session): void {
    let stream: Stream;
    try {
      stream = session.open({ ...REPLICAS_STREAM });
    } catch {
      return; // the session is already going away
    }
    stream.on('error', () => {}); // an agent without replica support refuses it: nothing to do
    stream.resume();
    // the agent is leaving: end the stream so that its drain does not wait for it
    const onGoAway = () => this.end(session);
    session.once('goaway', onGoAway);
    stream.once('close', () => {
      session.off('goaway', onGoAway);
      if (this.streams.get(session) === stream) this.streams.delete(session);
    });
    this.streams.set(session, stream);
    write(stream, this.source.current()); // changes between the hello and this stream are not lost
  }
}

function write(stream: Stream, replicas: readonly Replica[]): void {
  if (stream.writable) stream.write(`${JSON.stringify({ replicas })}\n`);
}
