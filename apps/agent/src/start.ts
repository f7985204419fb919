// Wires one agent: metrics, allow-list, dialer (session to the server), stream relay, meta listener.
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { AllowList } from './allow-list.js';
import type { AgentConfig } from './config.js';
import { openCredentials } from './credentials.js';
import { describePolicy } from './replica-policy.js';
import { ReplicaManager, type SessionInfo } from './replicas.js';
import { startMeta } from './meta.js';
import { createMetrics } from './metrics.js';
import { countLiveBytes, dialTcp, serveStream, type DialTarget } from './relay.js';
import { ceilingHello, onServerConfig } from './port-follow.js';
import type { Credentials } from './tls.js';
import type { TLSSocket } from 'node:tls';

export interface AgentStatus {
  connected: boolean;
  serverId?: string;
  /** connection attempts since start */
  attempts: number;
  activeStreams: number;
  /** one entry per server replica with a session up */
  sessions: SessionInfo[];
}

export interface AgentHandle {
  /** GOAWAY, lets open streams finish up to --drain-timeout-ms, stops the meta listener. */
  close(): Promise<void>;
  status(): AgentStatus;
  metaAddress: AddressInfo;
}

/** Seams for tests; production uses the defaults. */
export interface AgentDeps {
  /** local target dialer (default: net.connect with allowHalfOpen) */
  dialTarget?: DialTarget;
  /** [0, 1) for backoff jitter (default Math.random) */
  random?: () => number;
  /** TLS connection to the server (default: tls.connect with the configured credentials) */
  connectServer?: (config: AgentConfig, creds: Credentials, tunnel?: Socket) => TLSSocket;
}

/**
 * Starts the agent. Rejects (AgentError) if --cert/--key/--ca cannot be read or the meta port is taken.
 * With a bootstrap token and no usable certificate it enrolls in the background (never rejects for that).
 */
export async function start(config: AgentConfig, logger: Logger, deps: AgentDeps = {}): Promise<AgentHandle> {
  const log = logger.child({ nodeName: config.nodeName, serverAddr: `${config.server.host}:${config.server.port}` });
  const credentials = await openCredentials(config, log, deps.random);
  let replicas: ReplicaManager | undefined;
  const metrics = createMetrics(
    () => replicas?.first()?.rttMs,
    () => countLiveBytes(replicas?.streams() ?? []),
  );
  const allowList = new AllowList(config);
  const relay = {
    allowList,
    dialTarget: deps.dialTarget ?? dialTcp,
    dialTimeoutMs: config.dialTimeoutMs,
    streamIdleTimeoutMs: config.streamIdleTimeoutMs,
    metrics,
    log,
  };
  const manager = new ReplicaManager({
    config,
    log,
    metrics,
    random: deps.random,
    connect: deps.connectServer,
    credentials,
    onStream: (stream) => serveStream(stream, relay),
    helloExtra: ceilingHello(allowList),
    onConfig: (msg) => onServerConfig(msg, allowList, log),
  });
  replicas = manager;
  const meta = await startMeta(config.metaAddr, {
    registry: metrics.registry,
    notReadyReason: () => (manager.first() ? undefined : (credentials.pendingReason() ?? manager.lastError())),
  });
  const replicaPolicy = describePolicy({ serverHost: config.server.host, serverPort: config.server.port, cidrs: config.replicaCidrs });
  log.info(
    {
      metaAddr: `${meta.address.address}:${meta.address.port}`,
      allowed: allowList.describe(),
      replicaPolicy,
      transport: config.transport,
      proxy: describeProxy(config.proxy),
    },
    'agent starting',
  );
  credentials.start();
  manager.start();
  let closing: Promise<void> | undefined;
  return {
    metaAddress: meta.address,
    status: () => {
      const sessions = manager.list();
      return {
        connected: sessions.length > 0,
        serverId: sessions[0]?.replicaId,
        attempts: manager.attempts(),
        activeStreams: sessions.reduce((n, s) => n + s.openStreams, 0),
        sessions,
      };
    },
    close: () =>
      (closing ??= (async () => {
        log.info({ durationMs: config.drainTimeoutMs }, 'agent stopping: draining streams');
        credentials.close();
        await manager.close(config.drainTimeoutMs);
        await meta.close();
        log.info({}, 'agent stopped');
      })()),
  };
}

/** The proxy as the start line shows it: where it came from and how it authenticates, never the credentials. */
export function describeProxy(proxy: AgentConfig['proxy']): string {
  if (!proxy) return 'none (direct dials)';
  const auth = proxy.authFile
    ? `, Basic auth from ${proxy.authFile}`
    : proxy.urlAuth !== undefined
      ? `, Basic auth from the user:password in ${proxy.source}`
      : '';
  const bypass = proxy.noProxy.length > 0 ? `, direct for NO_PROXY ${proxy.noProxy.join(',')}` : '';
  return `${proxy.display} (from ${proxy.source}${auth}${bypass})`;
}
