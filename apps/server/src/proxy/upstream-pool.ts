// Keep-alive connections to node targets, per listener: one http.Agent per node session, whose
// sockets are tunnel streams (HTTP channel, :10264) or TLS with the server's kubelet-client identity
// over a stream each (HTTPS channel, :10263). A request takes an idle connection to its node and
// port when there is one, else opens a stream (and a TLS handshake); after a complete response the
// connection waits, idle, for the next request.
// Bounds: at most `size` idle connections per node and port (more are closed), `idleMs` idle at
// most (less when the target's Keep-Alive: timeout= says so). Never reused: a connection whose
// request failed, was cancelled, or whose response said Connection: close (Node's Agent destroys
// those), or that sent a byte or its end while idle; upgrades (101) never use the pool
// (forward-upgrade.ts opens their own stream). When the node's session is replaced or goes, its idle
// connections close at once (the old session's drain does not wait for them) and its busy ones
// close when their response ends. Callers share a node's connections: the target sees the same
// connection from the agent (and on :10263 the same kubelet-client identity) whoever asked, and the
// server checks every request before it takes one.
import { Agent } from 'node:http';
import type { ClientRequest, ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AgentRegistry, AgentSession } from '../agents/registry.js';
import type { ProxyContext } from './context.js';
import { isFailure } from './dest.js';
import type { Failure } from './http-errors.js';
import { asPoolSocket } from './pool-socket.js';
import { openTunnel, originateTls, type Caller, type Route, type Tunnel } from './tunnel.js';

export interface PoolOptions {
  /** idle connections kept per node and port; 0 = no pool (a connection per request) */
  size: number;
  /** an idle connection is closed after this long */
  idleMs: number;
}

export const DEFAULT_UPSTREAM_POOL_SIZE = 8;
/** Below the kubelet's own idle timeout (90 s), above metrics-server's 15 s scrape interval. */
export const DEFAULT_UPSTREAM_IDLE_MS = 30_000;

/** A request could not get a connection (stream limit, session gone): the Failure to answer with. */
export class UpstreamFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

const kTunnel = Symbol('tunnel');
type Pooled = Duplex & { [kTunnel]?: Tunnel };

/** The tunnel under a pooled connection (undefined for a socket the pool did not make). */
export function tunnelOf(socket: Duplex | null | undefined): Tunnel | undefined {
  return (socket as Pooled | null | undefined)?.[kTunnel];
}

interface ConnectArgs extends ClientRequestArgs {
  route: Route;
  traceId: string;
  /** whose quota a new connection's stream counts against (the caller that made it open) */
  caller: Caller;
}

/** The pool of one node session: an Agent whose connections are TLS over tunnel streams. */
class NodeAgent extends Agent {
  ended = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly pools: UpstreamPools,
    opts: PoolOptions,
  ) {
    super({ keepAlive: true, maxFreeSockets: opts.size, timeout: opts.idleMs, scheduling: 'lifo' });
  }

  override createConnection(options: ClientRequestArgs, cb?: (err: Error | null, socket: Duplex) => void): Duplex | undefined {
    const { route, traceId, caller } = options as ConnectArgs;
    const socket = this.pools.connect(route, traceId, caller);
    if (!isFailure(socket)) return socket;
    cb?.(new UpstreamFailure(socket), undefined as never);
    return undefined;
  }

  /** A node session that went keeps none of its connections; a byte or the end from an idle one closes it. */
  override keepSocketAlive(socket: Duplex): boolean {
    if (this.ended || !(super.keepSocketAlive(socket as never) as unknown as boolean)) return false;
    socket.on('data', closeIdle);
    socket.on('end', closeIdle);
    return true;
  }

  /** The idle timer runs only while idle: off while a request has the connection, armed again by keepSocketAlive. */
  override reuseSocket(socket: Duplex, req: ClientRequest): void {
    socket.off('data', closeIdle);
    socket.off('end', closeIdle);
    (socket as Duplex & { setTimeout(ms: number): void }).setTimeout(0);
    super.reuseSocket(socket as never, req);
  }

  idle(): number {
    let n = 0;
    for (const list of Object.values(this.freeSockets)) n += list?.length ?? 0;
    return n;
  }
}

/**
 * An idle connection has no request: bytes on it (a second answer to the last request, early or
 * late) would be read as the next request's answer. Node's client drops them only while no request
 * is on the socket; this closes the connection instead, so none can race the next request. An end
 * (a target that closed it; a stream stays half-open where TCP would close) closes it too.
 */
function closeIdle(this: Duplex): void {
  this.destroy();
}

/** The pools of one listener, one per attached node session. */
export class UpstreamPools {
  readonly #agents = new Map<AgentSession, NodeAgent>();
  /** connections opened (TLS handshakes started) since start */
  opened = 0;

  constructor(
    private readonly ctx: ProxyContext,
    registry: AgentRegistry,
    private readonly opts: PoolOptions,
  ) {
    registry.onSessionEnd((agent) => this.drop(agent));
  }

  /** A new connection to the route's target: a stream, and TLS over it on the HTTPS channel. */
  connect(r: Route, traceId: string, caller: Caller): Duplex | Failure {
    const tunnel = openTunnel(this.ctx, r, this.ctx.channel, traceId, caller);
    if (isFailure(tunnel)) return tunnel;
    const socket = (this.ctx.originate !== undefined ? originateTls(tunnel.stream, r, this.ctx.originate) : asPoolSocket(tunnel.stream)) as Pooled;
    socket[kTunnel] = tunnel;
    this.opened += 1;
    this.ctx.metrics.upstreamConnections.inc({ result: 'opened' });
    return socket;
  }

  /**
   * A request to the route's kubelet through the pool (its error may be an UpstreamFailure);
   * `fresh`: on a new connection of its own that is not pooled (a retry).
   */
  request(
    r: Route,
    traceId: string,
    caller: Caller,
    args: ClientRequestArgs,
    request: (a: ConnectArgs) => ClientRequest,
    fresh = false,
  ): ClientRequest | Failure {
    if (fresh) {
      const socket = this.connect(r, traceId, caller);
      return isFailure(socket)
        ? socket
        : request({ ...args, host: r.targetHost, port: r.targetPort, route: r, traceId, caller, createConnection: () => socket as never });
    }
    let agent = this.#agents.get(r.session);
    if (agent === undefined) this.#agents.set(r.session, (agent = new NodeAgent(this.ctx, this, this.opts)));
    const upstream = request({ ...args, agent, host: r.targetHost, port: r.targetPort, route: r, traceId, caller });
    upstream.once('socket', () => {
      if (upstream.reusedSocket) this.ctx.metrics.upstreamConnections.inc({ result: 'reused' });
    });
    return upstream;
  }

  /** Closes the session's idle connections; its busy ones close when their response ends. */
  drop(session: AgentSession): void {
    const agent = this.#agents.get(session);
    if (agent === undefined) return;
    this.#agents.delete(session);
    agent.ended = true;
    for (const list of Object.values(agent.freeSockets)) for (const s of [...(list ?? [])]) s.destroy();
  }

  /** Shutdown: every session's idle connections close, busy ones after their response. */
  dropAll(): void {
    for (const session of [...this.#agents.keys()]) this.drop(session);
  }

  /** Idle connections of `nodeName`'s session (all nodes when omitted). */
  idle(nodeName?: string): number {
    let n = 0;
    for (const [session, agent] of this.#agents) if (nodeName === undefined || session.nodeName === nodeName) n += agent.idle();
    return n;
  }
}
