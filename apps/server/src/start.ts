// Wires the listeners: agents (mTLS), HTTPS and HTTP proxies, optional CONNECT, meta. Returns a
// handle whose close() drains: GOAWAY to every agent, listeners closed, open streams given
// drainTimeoutMs to finish.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Channel, Dest } from '@edge-tunnel/dnat';
import { closeServer, formatAddr, isWildcard, listen } from './addr.js';
import type { ListenAddr } from './addr.js';
import { createAgentListener } from './agents/agent-listener.js';
import { createWsListener } from './agents/ws-listener.js';
import { Readiness } from './agents/readiness.js';
import { AgentRegistry } from './agents/registry.js';
import { startStandaloneCapture } from './capture/standalone.js';
import type { StandaloneCapture } from './capture/standalone.js';
import { ReplicaSet } from './agents/replicas.js';
import { PortAnnouncer } from './agents/port-announcer.js';
import type { Cluster, ClusterOptions } from './cluster/cluster.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { createMetaServer } from './meta.js';
import { createTlsFront } from './accept/tls-front.js';
import { createPassthroughFront } from './accept/passthrough-front.js';
import { passthroughHandlers } from './proxy/passthrough.js';
import { originalDstLookup } from './capture/original-dst.js';
import { CaptureMode, HttpsMode } from './server-config.js';
import { RefusalReporter } from './accept/refusals.js';
import { ServerMetrics } from './metrics.js';
import { FilePortConfigSource, StaticPortConfigSource } from './port-config-source.js';
import type { PortConfigSource } from './port-config-source.js';
import { createConnectFronts } from './connect-fronts.js';
import { proxyLimits, type ListenerName, type OriginateTls, type ProxyContext } from './proxy/context.js';
import { UpstreamPools } from './proxy/upstream-pool.js';
import { proxyServerOptions, refuseClient } from './proxy/listener.js';
import type { ProxyListenerLimits } from './proxy/listener.js';
import { forwardHttp } from './proxy/forward-http.js';
import { forwardUpgrade } from './proxy/forward-upgrade.js';
import { destWithPodRoute } from './proxy/dest.js';
import type { PodRoute } from './proxy/dest.js';
import type { Failure } from './proxy/http-errors.js';
import { CallerGate } from './proxy/caller-gate.js';
import { TokenAuthorizer } from './proxy/token-auth.js';
import { optionalPem, pem } from './tls-material.js';
import { tunnelError } from './proxy/tunnel-errors.js';

export interface ServerAddresses {
  agent: ListenAddr;
  https: ListenAddr;
  http: ListenAddr;
  meta: ListenAddr;
  connect?: ListenAddr;
  agentWs?: ListenAddr;
  /** --connect-uds, once bound */
  connectUds?: string;
}

export interface ServerHandle {
  /** GOAWAY to every agent, stop listening, let open streams drain (drainTimeoutMs), then end */
  close(): Promise<void>;
  /** bound addresses (real ports when 0 was asked) */
  addresses: ServerAddresses;
  registry: AgentRegistry;
  portConfig: PortConfigSource;
  metrics: ServerMetrics;
  /** tells agents their ports (perf: `lastFanOutMs`) */
  ports: PortAnnouncer;
  /** the replicas agents are told about (this one included) */
  replicas: ReplicaSet;
}

export interface StartOptions extends ClusterOptions {
  /** a port config source to use instead of --config or the port ConfigMap */
  portConfigSource?: PortConfigSource;
}

export async function start(config: ServerConfig, logger: Logger, options: StartOptions = {}): Promise<ServerHandle> {
  const cert = pem(config.cert, '--cert');
  const key = pem(config.key, '--key');
  const agentCa = pem(config.agentCa, '--agent-ca');
  const callerCa = optionalPem(config.callerCa, '--caller-ca');
  const originate: OriginateTls = {
    cert: optionalPem(config.kubeletClientCert, '--kubelet-client-cert'),
    key: optionalPem(config.kubeletClientKey, '--kubelet-client-key'),
    ca: optionalPem(config.kubeletCa, '--kubelet-ca'),
    verify: config.verifyKubelet,
  };
  // cluster mode only: loading it pulls in @kubernetes/client-node
  const cluster: Cluster | undefined = config.kubernetes ? await (await import('./cluster/cluster.js')).startCluster(config, logger, options) : undefined;
  const portConfig =
    options.portConfigSource ??
    cluster?.portConfig ??
    (config.configFile !== undefined
      ? new FilePortConfigSource(config.configFile, logger.child({ component: 'port-config' }), { pollMs: config.configPollMs })
      : new StaticPortConfigSource());
  const registry = cluster?.registry ?? new AgentRegistry();
  // agents that follow port config get their ports over the session, at attach and on every change
  const ports = new PortAnnouncer(portConfig, logger.child({ component: 'port-follow' }), cluster?.nodeWarning);
  const metrics = new ServerMetrics(registry, { perNode: config.metricsPerNode });
  const proxyLog = logger.child({ component: 'proxy' });
  const ctx = (listener: ListenerName, channel: Channel, tls?: OriginateTls): ProxyContext => ({
    listener,
    channel,
    registry,
    portConfig: () => portConfig.current().config,
    originate: tls,
    compression: config.compression,
    metrics,
    log: proxyLog,
    ...proxyLimits(config),
  });
  const limits: ProxyListenerLimits = {
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    maxHeaderBytes: config.maxHeaderBytes,
    callerIdleTimeoutMs: config.callerIdleTimeoutMs,
  };

  // the agent listener's own address is known only once bound: the set is filled in below
  // scale-out needs an address agents can dial: --advertise-addr, or a specific agent listener host;
  // without one the hello carries no replica set and agents keep their one load-balancer session
  const scaleOut = config.advertiseAddr !== undefined || !isWildcard(config.agentAddr.host);
  const replicas = new ReplicaSet({ id: config.serverId, addr: config.advertiseAddr ?? formatAddr(config.agentAddr) }, config.peerAddrs);
  const readiness = new Readiness({
    registry,
    graceMs: config.readyGraceMs,
    // cluster mode: the node table holds exactly the edge Nodes of the API; waiting for them only
    // pays off while another replica can route (a lone replica held unready serves nobody)
    expected: () => (cluster ? (replicas.current().length > 1 ? registry.tunnels().map((t) => t.nodeName) : undefined) : config.expectedNodes),
  });
  // cluster mode: agents enrolled with a bootstrap token carry certificates from the CA Secret
  const agents = createAgentListener(
    {
      ...config,
      cert,
      key,
      agentCa: cluster ? `${agentCa.trimEnd()}\n${cluster.caPem}` : agentCa,
      ...(cluster ? { enroller: cluster.enroller } : {}),
      ...(scaleOut ? { replicas } : {}),
      ports,
    },
    registry,
    metrics,
    logger.child({ component: 'agents' }),
  );
  const https = createHttpsServer({
    cert,
    key,
    ca: callerCa,
    requestCert: callerCa !== undefined,
    rejectUnauthorized: config.requireCallerCert,
    minVersion: 'TLSv1.2',
    ...proxyServerOptions(limits),
    handshakeTimeout: config.httpsHandshakeTimeoutMs,
  });
  const passthrough = config.httpsMode === HttpsMode.passthrough;
  const httpsCtx = ctx('https', 'https', passthrough ? undefined : originate);
  const frontOpts = {
    clientHelloTimeoutMs: config.clientHelloTimeoutMs,
    maxPendingConnections: config.maxPendingConnections,
    maxPendingPerSource: config.httpsMaxPendingPerSource,
  };
  const httpsRefusals = new RefusalReporter('https', metrics.tlsRefusals, proxyLog);
  // accepted by a TCP front: connections that never send a ClientHello are closed early (accept/tls-front.ts);
  // passthrough: the front reads the ClientHello and relays it to the kubelet (proxy/passthrough.ts)
  const httpsFront = passthrough
    ? createPassthroughFront(
        frontOpts,
        httpsRefusals,
        passthroughHandlers(httpsCtx, config.capture === CaptureMode.iptables ? originalDstLookup(options.iptablesRunner, proxyLog) : undefined),
      )
    : createTlsFront(https, frontOpts, httpsRefusals);
  if (passthrough) {
    logger.info(
      {
        httpsMode: 'passthrough',
        routing: config.capture === CaptureMode.iptables ? 'original destination (conntrack), else SNI' : 'SNI (node name → port 10250)',
      },
      "https passthrough: callers' TLS goes end to end to the kubelet; this server holds no kubelet-client certificate and checks no HTTPS caller",
    );
  }
  https.on('tlsClientError', (err: NodeJS.ErrnoException, socket: { remoteAddress?: string }) => {
    proxyLog.warn(
      { listener: 'https', remoteAddress: socket.remoteAddress, code: err.code, reason: err.message.split('\n')[0] },
      'caller tls handshake failed',
    );
  });
  const http = createHttpServer(proxyServerOptions(limits));
  const gate = new CallerGate({
    callerAllow: config.callerAllow,
    table: registry.table,
    log: proxyLog,
    ...(cluster
      ? {
          tokens: new TokenAuthorizer(cluster.reviews, {
            tokenTtlMs: config.tokenCacheTtlMs,
            authorizedTtlMs: config.authzCacheTtlMs,
            unauthorizedTtlMs: config.authzNegativeCacheTtlMs,
            maxEntries: config.authCacheEntries,
          }),
        }
      : {}),
  });
  const httpCtx = ctx('http', 'http');
  // keep-alive connections to node targets: a stream (and a TLS handshake) per connection, not per request (proxy/upstream-pool.ts)
  const pooled = config.upstreamPoolSize > 0 ? (passthrough ? [httpCtx] : [httpsCtx, httpCtx]) : [];
  const pools = pooled.map((c) => (c.pool = new UpstreamPools(c, registry, { size: config.upstreamPoolSize, idleMs: config.upstreamIdleTimeoutMs })));
  metrics.upstreamIdle = () => pools.reduce((n, pool) => n + pool.idle(), 0);
  if (!passthrough) wireProxy(https, httpsCtx, cluster?.pods, gate);
  wireProxy(http, httpCtx, cluster?.pods);
  const connectFronts = createConnectFronts(config, ctx('connect', 'http'), limits, { cert, key, callerCa }, metrics, proxyLog);
  const connect = connectFronts.tcp;
  const agentWs = config.agentWsAddr
    ? createWsListener(
        {
          cert,
          key,
          agentCa: cluster ? `${agentCa.trimEnd()}\n${cluster.caPem}` : agentCa,
          helloTimeoutMs: config.helloTimeoutMs,
          maxPendingConnections: config.maxPendingConnections,
        },
        agents,
        metrics,
        logger.child({ component: 'agents' }),
      )
    : undefined;
  const notReadyReason = (): string | undefined => readiness.notReadyReason(cluster?.synced() ?? true);
  // standalone --capture iptables, started once the proxies are bound (their ports are the DNAT targets)
  let standaloneCapture: StandaloneCapture | undefined;
  const meta = createMetaServer({
    registry,
    metrics,
    portConfig,
    ready: () => notReadyReason() === undefined,
    notReadyReason,
    tunnelsLimit: config.debugTunnelsLimit,
    callerIdleTimeoutMs: config.callerIdleTimeoutMs,
    debug: {
      '/debug/replicas': () => ({ self: replicas.self, replicas: replicas.current() }),
      '/debug/agent-handshakes': () => agents.handshakes(),
      '/debug/https-handshakes': () => httpsFront.stats(),
      '/debug/capture': () => standaloneCapture?.status() ?? cluster?.status()['capture'] ?? { mode: config.capture },
      ...(cluster ? { '/debug/cluster': () => cluster.status() } : {}),
    },
  });

  const servers: Array<[NetServer, ListenAddr, string]> = [
    [agents.server, config.agentAddr, 'agent listener'],
    [httpsFront.server, config.httpsAddr, 'HTTPS proxy'],
    [http, config.httpAddr, 'HTTP proxy'],
    [meta, config.metaAddr, 'meta listener'],
    ...(connect && config.connectAddr ? [[connect, config.connectAddr, 'CONNECT frontend'] as [NetServer, ListenAddr, string]] : []),
    ...(agentWs && config.agentWsAddr ? [[agentWs, config.agentWsAddr, 'agent WebSocket listener'] as [NetServer, ListenAddr, string]] : []),
  ];
  let bound: ListenAddr[];
  let connectUds: string | undefined;
  try {
    bound = await Promise.all(servers.map(([server, addr, what]) => listen(server, addr, what)));
    connectUds = await connectFronts.listenUds();
    const proxies = { https: bound[1]!, http: bound[2]! };
    cluster?.startCapture(proxies);
    if (!cluster && config.capture === 'iptables') {
      standaloneCapture = startStandaloneCapture(config, {
        registry,
        portConfig,
        bound: proxies,
        runner: options.iptablesRunner,
        logger: logger.child({ component: 'capture' }),
      });
    }
  } catch (err) {
    await Promise.all([...servers.map(([server]) => server), ...connectFronts.http].map((server) => closeServer(server)));
    portConfig.close();
    await cluster?.stop();
    throw err;
  }
  const addresses: ServerAddresses = {
    agent: bound[0]!,
    https: bound[1]!,
    http: bound[2]!,
    meta: bound[3]!,
    ...(connect ? { connect: bound[4]! } : {}),
    ...(agentWs ? { agentWs: bound[connect ? 5 : 4]! } : {}),
    ...(connectUds ? { connectUds } : {}),
  };
  // port 0: the bound port
  if (config.advertiseAddr === undefined) replicas.setSelf({ id: config.serverId, addr: formatAddr(addresses.agent) });
  if (scaleOut) {
    cluster?.startMembership(replicas.self, (live) => replicas.set(live.filter((r) => r.id !== config.serverId)));
    logger.info({ serverId: config.serverId, advertiseAddr: replicas.self.addr, replicas: replicas.current().length }, 'replica set');
  } else if (cluster) {
    logger.info({ serverId: config.serverId }, 'scale-out off: no --advertise-addr and a wildcard --agent-addr');
  }
  readiness.listening();
  logger.info(Object.fromEntries(Object.entries(addresses).map(([k, v]) => [k, typeof v === 'string' ? v : formatAddr(v)])), 'server listening');

  let closing: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    readiness.drain();
    logger.info({ sessions: agents.sessions.size, drainTimeoutMs: config.drainTimeoutMs, durationMs: config.shutdownDelayMs }, 'server draining');
    // unready first: the Service (or the lab's client) stops sending here while we still serve
    if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
    agents.endControlStreams();
    const stopped = [...servers.filter(([s]) => s !== meta).map(([s]) => s), ...connectFronts.http.filter((s) => s !== connect)].map((s) => closeServer(s));
    agents.dropWaiting();
    httpsFront.dropWaiting();
    connectFronts.dropWaiting();
    for (const s of [https, http, ...connectFronts.http]) s.closeIdleConnections();
    // idle kubelet connections hold streams the drain would wait for
    for (const pool of pools) pool.dropAll();
    await Promise.all(
      [...agents.sessions].map((s) => {
        s.goAway('NO_ERROR', 'server shutting down');
        return s.close(config.drainTimeoutMs);
      }),
    );
    for (const s of [https, http, ...connectFronts.http]) s.closeAllConnections();
    await Promise.all(stopped);
    meta.closeAllConnections();
    await closeServer(meta);
    ports.close();
    portConfig.close();
    // after the drain: iptables rules and conntrack entries stay until the last stream ended
    await standaloneCapture?.stop();
    await cluster?.stop();
    logger.info({}, 'server closed');
  };
  return {
    close: () => (closing ??= shutdown()),
    addresses,
    registry,
    portConfig,
    metrics,
    ports,
    replicas,
  };
}

/** The caller left while the pod's node was looked up: nothing is opened, the audit line says so. */
const CALLER_GONE: Failure = { ...tunnelError('CALLER_GONE'), message: 'the caller went away during the pod lookup' };

/**
 * `gate` (HTTPS listener): certificate rules, bearer tokens (proxy/caller-gate.ts); a refused caller
 * is answered 401/403 with a warn line, before anything is opened toward a node.
 */
function wireProxy(server: HttpServer, ctx: ProxyContext, pods?: PodRoute, gate?: CallerGate): void {
  if (pods === undefined) {
    server.on('request', (req, res) => forwardHttp(ctx, req, res, gate?.refusal(req)));
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => forwardUpgrade(ctx, req, socket, head, gate?.refusal(req)));
  } else {
    // cluster mode: a kubelet pod path whose Host is not a node goes to the pod's node
    const isNode = (host: string): boolean => ctx.registry.table.byIp(host) !== undefined || ctx.registry.table.get(host) !== undefined;
    const admit = (req: IncomingMessage): Promise<Dest | Failure> => {
      const route = (): Promise<Dest | Failure> => destWithPodRoute(req, isNode, pods);
      return gate ? gate.admit(req, route) : route();
    };
    server.on('request', (req, res) => void admit(req).then((dest) => forwardHttp(ctx, req, res, res.destroyed ? CALLER_GONE : dest)));
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      void admit(req).then((dest) => forwardUpgrade(ctx, req, socket, head, socket.destroyed ? CALLER_GONE : dest));
    });
  }
  // malformed, oversized, slow or ambiguous requests: a precise status and one warn line
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseClient(ctx, err, socket));
}
