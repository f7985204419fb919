// Keeps one session to the server up: connect (TLS + hello), serve, and on loss reconnect after a
// delay spread over --reconnect-spread-ms, then with full-jitter exponential backoff. One loop, so
// never more than one dial in flight.
import { Session, resume, type GoAwayInfo, type SocketStream } from '@edge-tunnel/framing';
import { Backoff } from './backoff.js';
import { initialWindowFor, type HostPort } from './config.js';
import { ConnectResult } from './metrics.js';
import { connectServer, describeConnectError, type Credentials } from './tls.js';
import { awaitHandshake } from './tls-handshake.js';
import { resumeOfferOf, resumeSession } from './resume.js';
import { markRoute } from './resume-route.js';
import type { Redial, RedialAttempt } from './redial-race.js';
import type { DialerOptions } from './dialer-options.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PROOF_REFUSED } from '@edge-tunnel/websocket';
import { connectWebSocket, wsTarget } from './ws-dial.js';
import { ProxyError } from './proxy-connect.js';
import { tunnelFor } from './proxy-dial.js';
import { FALLBACK_FAILURES, TransportChoice, fallbackFor, type DialFailure, type Transport } from './transport-choice.js';

/** A session that lasted this long resets the backoff even if its hello was refused. */
export const HEALTHY_SESSION_MS = 30_000;
/** Protocol version of the application hello. */
export const HELLO_VERSION = 1;
export const AGENT_VERSION = '0.1.0';

/** established: the server accepted our hello; long-lived: refused, but lasted HEALTHY_SESSION_MS. */
type Outcome = 'established' | 'long-lived' | 'failed';

export class Dialer {
  /** connection attempts since start */
  attempts = 0;
  /** the session whose hello is done, while it lasts */
  session: Session | undefined;
  serverId: string | undefined;
  /** why there is no session, for /readyz */
  lastError = 'not connected yet';
  private readonly backoff: Backoff;
  private inFlight = 0;
  private stopped = false;
  private socket: Duplex | undefined;
  /** aborts a proxy CONNECT in flight when the dialer closes */
  private readonly closing = new AbortController();
  private live: Session | undefined;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  /** --transport: fixed, or auto's choice once a session came up (transport-choice.ts) */
  readonly choice: TransportChoice;
  /** the transport of the dial in flight, or of the session up */
  transport: Transport;
  /** the last failed dial, for auto's fallback */
  private lastFailure: DialFailure | undefined;
  /** why auto moved to WebSocket (the TLS failure), for the "transport chosen" line */
  private fellBack: string | undefined;
  /** the loop has ended (closed, or reconnect() said no) */
  finished = false;

  constructor(private readonly opts: DialerOptions) {
    this.choice = new TransportChoice(opts.config.transport);
    this.transport = this.choice.first();
    const { backoffBaseMs: baseMs, backoffMaxMs: maxMs, reconnectSpreadMs: spreadMs } = opts.config;
    this.backoff = new Backoff({ baseMs, maxMs, spreadMs, random: opts.random });
  }

  /**
   * Starts the dial loop. `spread`: the dial reacts to an event the whole fleet sees at once (a lost
   * session, a replica-set change), so it waits a delay spread over --reconnect-spread-ms first.
   */
  start(spread = false): void {
    const waitFirst = spread && this.opts.config.reconnectSpreadMs > 0;
    if (waitFirst) this.backoff.sessionLost();
    this.loopDone = this.loop(waitFirst);
  }

  /** Stops reconnecting; GOAWAY to the server and lets open streams finish up to `drainMs`. */
  async close(drainMs: number): Promise<void> {
    this.stopped = true;
    this.closing.abort();
    this.wake?.();
    if (this.live) await this.live.close(drainMs);
    else this.socket?.destroy();
    await this.loopDone;
  }

  private async loop(waitFirst: boolean): Promise<void> {
    if (waitFirst) await this.pause();
    while (!this.stopped) {
      let outcome: Outcome = 'failed';
      try {
        outcome = await this.connectOnce();
      } catch (err) {
        this.opts.log.error({ err, reason: String(err) }, 'unexpected dialer failure');
      }
      if (this.stopped) break;
      if (this.opts.reconnect && !this.opts.reconnect()) break;
      if (outcome === 'established') this.backoff.sessionLost();
      else if (outcome === 'long-lived') this.backoff.reset();
      await this.pause();
    }
    this.finished = true;
  }

  private async pause(): Promise<void> {
    const delayMs = this.backoff.next();
    this.opts.log.info({ delayMs, attempt: this.backoff.attempt, reason: this.lastError }, 'reconnecting');
    await this.sleep(delayMs);
  }

  /** One connection from dial to close, and how it went. */
  private async connectOnce(): Promise<Outcome> {
    if (this.inFlight > 0) throw new Error('a second dial while one is in flight');
    this.inFlight += 1;
    this.attempts += 1;
    try {
      const socket = await this.open();
      if (!socket) return 'failed';
      const link = await this.openLink(socket);
      return link === null ? 'failed' : await this.runSession(link?.link ?? socket, link);
    } finally {
      this.inFlight -= 1;
      this.socket = undefined;
      this.live = undefined;
    }
  }

  /** Where a dial over the current transport goes (the `connect failed` reasons name it). */
  private get serverAddr(): string {
    return this.addrOf();
  }

  /** The address a dial to `server` (default --server) names: over WebSocket always --ws-url. */
  private addrOf(server: HostPort = this.opts.config.server): string {
    return this.transport === 'websocket' ? this.opts.config.wsUrl.href : `${server.host}:${server.port}`;
  }

  /** One dial over the chosen transport; with auto still probing, a TLS failure that fallbackFor() names is retried over WebSocket at once. */
  private async open(): Promise<Duplex | undefined> {
    this.transport = this.choice.first();
    this.fellBack = undefined;
    this.lastFailure = undefined;
    const socket = await this.openOver();
    // (a cast: TypeScript keeps the `undefined` narrowing across the await)
    const failure = this.lastFailure as DialFailure | undefined;
    if (socket || this.stopped || !this.choice.probing() || !failure) return socket;
    const because = fallbackFor(failure);
    if (!because) return undefined;
    const tlsAddr = this.serverAddr;
    this.transport = 'websocket';
    this.fellBack = `TLS to ${tlsAddr} failed: ${FALLBACK_FAILURES[because]} (${failure.reason})`;
    this.opts.log.info(
      { transport: 'websocket', because, url: this.opts.config.wsUrl.href, reason: this.fellBack },
      'transport auto: TLS failed, trying WebSocket',
    );
    return this.openOver();
  }

  /**
   * When the server picked the resume protocol: the resumable link over `socket` (the session runs
   * over it); undefined for a plain session; null when the link handshake failed.
   */
  private async openLink(socket: Duplex): Promise<{ link: resume.ResumableLink; credentials: resume.ResumeCredentials } | undefined | null> {
    if (resumeOfferOf(socket) === undefined) return undefined;
    const { config } = this.opts;
    try {
      return await resume.openLink(socket, {
        timeoutMs: config.keepaliveTimeoutMs,
        keepaliveIntervalMs: config.keepaliveIntervalMs,
        keepaliveTimeoutMs: config.keepaliveTimeoutMs,
      });
    } catch (err) {
      socket.destroy();
      // over WebSocket the WELCOME is awaited right behind the certificate proof: a refused proof is a certificate failure, not a hello's
      if ((err as NodeJS.ErrnoException).code === PROOF_REFUSED) {
        const { kind, reason } = describeConnectError(err as NodeJS.ErrnoException, this.serverAddr);
        return this.failed(kind, reason) ?? null;
      }
      return this.failed(ConnectResult.HELLO_ERROR, `resumable session to ${this.serverAddr} not opened: ${(err as Error).message}`) ?? null;
    }
  }

  /**
   * Starts one new connection to the same server (replica) for a resume's redial race: its socket,
   * or undefined when the dial failed; abort() ends it at once (socket destroyed, timers cleared,
   * nothing logged). Over TLS it goes to the replica's advertised address when the policy admits it;
   * over WebSocket to --ws-url (an L7 route of its own), so a resume that lands on another replica
   * is retried there.
   */
  startRedial(): RedialAttempt {
    const ac = new AbortController();
    let tcpUp = false;
    const lb = { target: this.opts.config.server, via: 'lb' as const };
    const route = this.transport === 'websocket' ? lb : (this.opts.resumeRoute?.() ?? lb);
    const race: Redial = { signal: ac.signal, onTcp: () => (tcpUp = true) };
    const done = this.stopped ? Promise.resolve(undefined) : this.openOver(route.target, race).then((socket) => socket && markRoute(socket, route.via));
    return {
      get tcpUp() {
        return tcpUp;
      },
      get failure() {
        return race.failure;
      },
      target: this.addrOf(route.target),
      done,
      abort: () => ac.abort(),
    };
  }

  /** aborted when the dialer closes */
  get closingSignal(): AbortSignal {
    return this.closing.signal;
  }

  get isClosing(): boolean {
    return this.stopped;
  }

  /**
   * One dial over the current transport; `server`: another address than --server (a resume's
   * replica address), which the failure reasons name. A redial (`race`) is not the dialer's socket:
   * the race aborts it through its signal (no failure recorded then) and hears when its TCP is up;
   * its failure is kept on it for the resume's aggregated log line, not logged here.
   */
  private async openOver(server?: HostPort, race?: Redial): Promise<Duplex | undefined> {
    const { log } = this.opts;
    const config = server ? { ...this.opts.config, server } : this.opts.config;
    const gone = (): boolean => this.stopped || race?.signal.aborted === true;
    let creds: Credentials;
    try {
      creds = await this.opts.credentials.current();
    } catch (err) {
      if (gone()) return undefined;
      return this.failed(ConnectResult.TLS_ERROR, (err as Error).message, undefined, undefined, race);
    }
    if (gone()) return undefined;
    let tunnel: Socket | undefined;
    try {
      const signal = race ? AbortSignal.any([this.closing.signal, race.signal]) : this.closing.signal;
      tunnel = await tunnelFor(this.transport === 'websocket' ? { ...config, server: wsTarget(config.wsUrl) } : config, signal);
    } catch (err) {
      if (!(err instanceof ProxyError)) throw err;
      return gone() ? undefined : this.failed(ConnectResult.PROXY_ERROR, err.message, err.failure, err.failure, race);
    }
    if (gone()) return void tunnel?.destroy();
    if (tunnel) race?.onTcp();
    if (this.transport === 'websocket') return this.openWebSocket(creds, tunnel, race);
    const socket = (this.opts.connect ?? connectServer)(config, creds, tunnel);
    if (!race) this.socket = socket;
    log.debug({ attempt: this.attempts, redial: race !== undefined }, 'dialing server');
    const result = await awaitHandshake(socket, { timeoutMs: config.keepaliveTimeoutMs, serverAddr: this.addrOf(server), tcpUp: tunnel !== undefined, race });
    if (result === 'aborted') return undefined;
    return 'kind' in result ? this.failed(result.kind, result.reason, result.kind, result.detail, race) : result;
  }

  private async openWebSocket(creds: Credentials, tunnel: Socket | undefined, race?: Redial): Promise<Duplex | undefined> {
    this.opts.log.debug({ attempt: this.attempts, url: this.serverAddr }, 'dialing server over WebSocket');
    try {
      const socket = await connectWebSocket(this.opts.config, creds, tunnel, this.opts.config.keepaliveTimeoutMs, race);
      if (!race) this.socket = socket;
      return socket;
    } catch (err) {
      tunnel?.destroy();
      if (this.stopped || race?.signal.aborted) return undefined;
      const e = err as NodeJS.ErrnoException;
      if (e.code) {
        const { kind, reason } = describeConnectError(e, this.serverAddr);
        return this.failed(kind, reason, kind, kind, race);
      }
      return this.failed(/proof|certificate/.test(e.message) ? ConnectResult.TLS_ERROR : ConnectResult.UNREACHABLE, e.message, undefined, undefined, race);
    }
  }

  private async runSession(socket: Duplex, resumable?: { link: resume.ResumableLink; credentials: resume.ResumeCredentials }): Promise<Outcome> {
    const { config, log, metrics } = this.opts;
    const started = Date.now();
    const graceMs = resumable?.credentials.graceMs ?? 0;
    const session = new Session(socket, {
      role: 'client',
      hello: { nodeName: config.nodeName, nodeIps: config.nodeIps, version: HELLO_VERSION, agentVersion: AGENT_VERSION, ...this.opts.helloExtra },
      compression: config.compression,
      keepaliveIntervalMs: config.keepaliveIntervalMs,
      // over a resumable link the link judges a silent connection; the session waits out the grace too
      keepaliveTimeoutMs: resumable ? resume.sessionKeepaliveTimeoutMs(config.keepaliveTimeoutMs, graceMs) : config.keepaliveTimeoutMs,
      maxStreams: config.maxStreams,
      initialWindow: initialWindowFor(config),
      receiveBudget: config.receiveBudget,
      maxWindow: config.maxWindow,
      maxControlPerSecond: config.maxControlPerSecond,
      // every stream the server opens ends at a local socket (or the replica control line reader)
      socketStreams: true,
      // the server's port config arrives in CONFIG frames (an older server never sends one)
      config: this.opts.onConfig !== undefined,
      logger: log,
    });
    this.live = session;
    if (this.opts.onConfig) session.on('config', (c: Record<string, unknown>) => this.opts.onConfig!(c, session));
    session.on('socketStream', (stream: SocketStream) => this.opts.onStream(stream, session));
    let refusal: GoAwayInfo | undefined;
    session.on('goaway', (info: GoAwayInfo) => {
      if (info.code === 'NO_ERROR') return log.info({ reason: info.reason }, 'server is going away');
      refusal = info;
      this.lastError = `refused by server: ${info.code} ${info.reason}`;
      log.error({ code: info.code, reason: info.reason }, 'refused by server');
    });
    const closed = new Promise<Error | undefined>((resolve) => session.once('close', resolve));
    if (resumable) {
      resumable.link.on(
        'paused',
        (reason: string) =>
          void resumeSession({
            dialer: this,
            session,
            ...resumable,
            reason,
            log,
            metrics,
            serverAddr: this.serverAddr,
            timeoutMs: config.keepaliveTimeoutMs,
            ...(this.opts.random ? { random: this.opts.random } : {}),
          }),
      );
    }
    const ok = await this.hello(session);
    if (ok && refusal) metrics.connects.inc({ result: ConnectResult.REFUSED, transport: this.transport });
    else if (ok) this.up(session);
    const err = await closed;
    const durationMs = Date.now() - started;
    if (this.session === session)
      this.down(session, refusal ? this.lastError : `session to ${this.serverAddr} closed: ${err?.message ?? 'closed'}`, durationMs);
    return ok && !refusal ? 'established' : durationMs > HEALTHY_SESSION_MS ? 'long-lived' : 'failed';
  }

  /** Waits for the server hello and checks it; false (session destroyed) if it is missing or wrong. */
  private async hello(session: Session): Promise<boolean> {
    let hello: Record<string, unknown>;
    try {
      hello = await session.ready;
    } catch (err) {
      const cause = ((err as Error).cause ?? err) as NodeJS.ErrnoException;
      const described = cause.code ? describeConnectError(cause, this.serverAddr) : undefined;
      this.failed(
        described?.kind ?? ConnectResult.HELLO_ERROR,
        described?.reason ?? `connection to ${this.serverAddr} ended before the server hello: ${cause.message}`,
      );
      return false;
    }
    if (hello.version !== HELLO_VERSION || typeof hello.serverId !== 'string') {
      this.failed(ConnectResult.HELLO_ERROR, `server hello ${JSON.stringify(hello).slice(0, 200)} is not protocol version ${HELLO_VERSION} with a serverId`);
      session.destroy();
      return false;
    }
    return true;
  }

  private up(session: Session): void {
    this.session = session;
    this.serverId = session.peerHello!.serverId as string;
    this.lastError = '';
    if (this.opts.onUp) this.opts.onUp(session);
    else this.opts.metrics.sessionUp.set(1);
    this.opts.metrics.connects.inc({ result: ConnectResult.OK, transport: this.transport });
    this.opts.log.info({ serverId: this.serverId, attempt: this.attempts, transport: this.transport }, 'session up');
    if (this.choice.setting === 'auto' && this.choice.decide(this.transport)) {
      const reason =
        this.transport === 'tls' ? `TLS to ${this.serverAddr} works (auto tries TLS first)` : `${this.fellBack}; WebSocket to ${this.serverAddr} works`;
      this.opts.log.info({ transport: this.transport, reason }, 'transport chosen: kept for this replica until the agent restarts');
    }
  }

  private down(session: Session, reason: string, durationMs: number): void {
    this.session = undefined;
    if (this.opts.onDown) this.opts.onDown(session);
    else this.opts.metrics.sessionUp.set(0);
    this.lastError = reason;
    const fields = { serverId: this.serverId, durationMs, reason };
    if (this.stopped) this.opts.log.info(fields, 'session closed');
    else this.opts.log.warn(fields, 'session lost');
  }

  /** Records a failed attempt (a redial's on the attempt, logged by the resume); `undefined` so callers can `return this.failed(...)`. */
  private failed(kind: ConnectResult, reason: string, code: string = kind, detail: string = code, race?: Redial): undefined {
    this.lastError = reason;
    this.opts.metrics.connects.inc({ result: kind, transport: this.transport });
    if (race) return void (race.failure = { kind, code: detail, reason });
    this.lastFailure = { kind, code: detail, reason };
    // unreachable may be a passing network problem; everything else needs an operator (auto's TLS probe that falls back: warn)
    const probe = this.choice.probing() && this.transport === 'tls' && fallbackFor(this.lastFailure) !== undefined;
    const level = this.stopped ? 'debug' : kind === ConnectResult.UNREACHABLE || probe ? 'warn' : 'error';
    this.opts.log[level]({ code, reason, attempt: this.attempts, transport: this.transport }, 'connect failed');
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => ((this.wake = undefined), resolve()), ms);
      this.wake = () => (clearTimeout(timer), (this.wake = undefined), resolve());
    });
  }
}
