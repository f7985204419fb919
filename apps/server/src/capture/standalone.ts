// iptables capture in standalone mode. The edge node IPs are the --edge-node-ip list plus every IP
// the node table has learned from attached agents (certificate-bound hello); a node stays in the
// table, so captured, after its agent left: its callers get a fast 503 NO_TUNNEL, not a timeout.
// The port config is --config. Every table or config change re-applies, debounced.
import type { IptablesRunner } from '@edge-tunnel/capture';
import type { ListenAddr } from '../addr.js';
import type { AgentRegistry } from '../agents/registry.js';
import type { ServerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { PortConfigSource } from '../port-config-source.js';
import { startIptablesCapture } from './iptables.js';
import { iptablesTargets } from './targets.js';

/** Quiet time after a node table or config change before the rules are rendered (a burst of attaches applies once). */
export const CAPTURE_DEBOUNCE_MS = 50;

export interface StandaloneCaptureDeps {
  registry: AgentRegistry;
  portConfig: PortConfigSource;
  /** the bound proxy listeners (their ports are the DNAT targets unless set by flags) */
  bound: { https: ListenAddr; http: ListenAddr };
  runner?: IptablesRunner;
  logger: Logger;
}

export interface StandaloneCapture {
  /** /debug/capture: the manager's status and the --edge-node-ip list */
  status(): Record<string, unknown>;
  /** stops following, then removes every rule */
  stop(): Promise<void>;
}

export function startStandaloneCapture(config: ServerConfig, deps: StandaloneCaptureDeps): StandaloneCapture {
  const { registry, portConfig } = deps;
  const capture = startIptablesCapture({
    ...iptablesTargets(config, deps.bound),
    resyncIntervalMs: config.iptablesResyncMs,
    otherPorts: config.iptablesOtherPorts,
    runner: deps.runner,
    logger: deps.logger,
  });
  const flagged = { ips: config.edgeNodeIps };
  let timer: NodeJS.Timeout | undefined;
  const apply = (): void => {
    timer = undefined;
    capture.update([flagged, ...registry.table.nodes()], portConfig.current().config);
  };
  const schedule = (): void => {
    timer ??= setTimeout(apply, CAPTURE_DEBOUNCE_MS);
  };
  const unsubscribe = registry.onChange(schedule);
  portConfig.on('change', schedule);
  apply();
  return {
    status: () => ({ ...capture.status(), edgeNodeIpFlags: config.edgeNodeIps, pending: timer !== undefined }),
    async stop() {
      unsubscribe();
      portConfig.off('change', schedule);
      clearTimeout(timer);
      timer = undefined;
      await capture.stop();
    },
  };
}
