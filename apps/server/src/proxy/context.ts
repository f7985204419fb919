// What the proxy handlers of one listener share.
import type { Channel, PortConfig } from '@edge-tunnel/dnat';
import type { AgentRegistry } from '../agents/registry.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { ServerFlags } from '../server-config.js';
import type { UpstreamPools } from './upstream-pool.js';
import type { StreamQuotaLimits } from './stream-quota.js';

/** How the HTTPS channel originates TLS to the kubelet through the stream. */
export interface OriginateTls {
  /** the server's kubelet-client identity (absent: no client certificate is presented) */
  cert?: string;
  key?: string;
  /** CA of kubelet serving certificates */
  ca?: string;
  /** verify the kubelet serving certificate against `ca` and the target address */
  verify: boolean;
}

export type ListenerName = 'http' | 'https' | 'connect';

export interface ProxyContext {
  listener: ListenerName;
  /** the channel requests on this listener travel through (CONNECT: taken from the port) */
  channel: Channel;
  registry: AgentRegistry;
  portConfig(): PortConfig;
  /** set on the HTTPS listener */
  originate?: OriginateTls;
  compression: boolean;
  metrics: ServerMetrics;
  /** audit lines and proxy warnings */
  log: Logger;
  /** concurrent streams to one node, all listeners and sessions together (--max-streams-per-node) */
  maxStreamsPerNode: number;
  /** shares of maxStreamsPerNode per listener, unauthenticated callers, source and identity (the --*-stream-share flags) */
  streamQuotas: Omit<StreamQuotaLimits, 'maxStreamsPerNode'>;
  /** CONNECT on a Unix socket: its callers got past the socket file's permissions, so they count as authenticated */
  unixSocket?: boolean;
  /** an upgraded or CONNECT relay with no byte either way for this long is closed (--relay-idle-timeout-ms) */
  relayIdleTimeoutMs: number;
  /** HTTPS listener: keep-alive connections to kubelets (absent: a stream and a TLS handshake per request) */
  pool?: UpstreamPools;
}

type LimitFlags = 'maxStreamsPerNode' | 'relayIdleTimeoutMs' | 'unauthenticatedStreamShare' | 'sourceStreamShare' | 'callerStreamShare' | 'listenerStreamShare';

/** The stream limits of a listener's context, from the flags. */
export function proxyLimits(c: Pick<ServerFlags, LimitFlags>): Pick<ProxyContext, 'maxStreamsPerNode' | 'relayIdleTimeoutMs' | 'streamQuotas'> {
  return {
    maxStreamsPerNode: c.maxStreamsPerNode,
    relayIdleTimeoutMs: c.relayIdleTimeoutMs,
    streamQuotas: {
      unauthenticatedShare: c.unauthenticatedStreamShare,
      sourceShare: c.sourceStreamShare,
      callerShare: c.callerStreamShare,
      listenerShare: c.listenerStreamShare,
    },
  };
}

/** Default of --max-streams-per-node. */
export const DEFAULT_MAX_STREAMS_PER_NODE = 1024;
/** Default of --relay-idle-timeout-ms: the kubelet's own streaming-connection-idle-timeout (4 h). */
export const DEFAULT_RELAY_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;
