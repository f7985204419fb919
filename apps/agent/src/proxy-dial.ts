// The hook the session dialer and enrollment share: the CONNECT tunnel a dial to `config.server`
// runs its TLS inside, or undefined when the dial is direct (no proxy, or NO_PROXY names the server).
import type { Socket } from 'node:net';
import type { AgentConfig } from './config.js';
import { bypassesProxy, type ProxyConfig } from './proxy-config.js';
import { openTunnel } from './proxy-connect.js';

/** The proxy a dial to `config.server` goes through, if any. */
export function proxyFor(config: Pick<AgentConfig, 'proxy' | 'server'>): ProxyConfig | undefined {
  const proxy = config.proxy;
  return proxy && !bypassesProxy(proxy.noProxy, config.server) ? proxy : undefined;
}

/** Opens the tunnel for a dial to `config.server`; undefined for a direct dial. Rejects with ProxyError. */
export async function tunnelFor(config: Pick<AgentConfig, 'proxy' | 'server'>, signal?: AbortSignal): Promise<Socket | undefined> {
  const proxy = proxyFor(config);
  return proxy ? openTunnel(proxy, config.server, { signal }) : undefined;
}
