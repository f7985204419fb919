// What the proxy handlers of one listener share.
import type { Channel, PortConfig } from '@edge-tunnel/dnat';
import type { AgentRegistry } from '../agents/registry.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';

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
}
