// Traffic capture in cluster mode. iptables: an IptablesManager fed with the edge Nodes' IPs and the
// port config, re-applied on every change and periodically, rules removed on stop. dns: the Lease
// leader writes the hosts ConfigMap (edge node names → the internal Service) for CoreDNS.
import { IptablesManager } from '@edge-tunnel/capture';
import type { CaptureStatus, IptablesRunner } from '@edge-tunnel/capture';
import type { PortConfig } from '@edge-tunnel/dnat';
import { DnsHostsWriter, LeaderElector } from '@edge-tunnel/kube';
import type { EdgeNode, loadKubeConfig } from '@edge-tunnel/kube';
import type { IpPort, ServerConfig } from '../config.js';
import type { Logger } from '../logger.js';

/** What the cluster wiring tells a capture. */
export interface Capture {
  /** the edge Nodes (once loaded) and the active port config, after every change */
  update(nodes: readonly EdgeNode[], config: PortConfig): void;
  status(): Record<string, unknown>;
  stop(): Promise<void>;
}

export interface IptablesCaptureOptions {
  httpsTarget: IpPort;
  httpTarget: IpPort;
  runner?: IptablesRunner;
  logger: Logger;
}

export function startIptablesCapture(opts: IptablesCaptureOptions): Capture {
  const manager = new IptablesManager({ logger: opts.logger, httpsTarget: opts.httpsTarget, httpTarget: opts.httpTarget, runner: opts.runner });
  let queue: Promise<unknown> = Promise.resolve();
  let stopped = false;
  manager.start();
  opts.logger.info({ httpsTarget: `${opts.httpsTarget.ip}:${opts.httpsTarget.port}`, httpTarget: `${opts.httpTarget.ip}:${opts.httpTarget.port}` }, 'iptables capture started');
  return {
    update(nodes, config) {
      if (stopped) return;
      const ips = nodes.flatMap((n) => n.ips);
      // update() rejects only on bad input (an IP that is no IP); the manager logs apply failures itself
      queue = queue.then(() => manager.update(ips, config)).catch((err: Error) => {
        opts.logger.error({ code: (err as { code?: string }).code, err: err.message }, 'iptables capture update refused');
      });
    },
    status: () => statusJson(manager.status()),
    async stop() {
      stopped = true;
      await queue;
      await manager.stop();
    },
  };
}

function statusJson(s: CaptureStatus): Record<string, unknown> {
  return {
    mode: 'iptables', ok: s.ok, running: s.running, ruleCount: s.ruleCount, nodeIps: s.nodeIps, ports: s.ports,
    skipped: s.skipped, applies: s.applies, failures: s.failures, lastAppliedAt: s.lastAppliedAt?.toISOString(),
    ...(s.lastError ? { lastError: { code: s.lastError.code, message: s.lastError.message, at: s.lastError.at.toISOString() } } : {}),
  };
}

/** The data key of the hosts ConfigMap: CoreDNS mounts it as /etc/edge-tunnel/tunnel-nodes (k8s/README.md). */
export const DNS_HOSTS_KEY = 'tunnel-nodes';

export interface DnsCaptureOptions {
  /** e.g. a shorter retry for tests; defaults are the LeaderElector's */
  leaseDurationSeconds?: number;
  retryIntervalMs?: number;
  renewIntervalMs?: number;
}

/** client-node's KubeConfig, named without depending on client-node directly */
export type KubeConfig = ReturnType<typeof loadKubeConfig>;

export function startDnsCapture(kc: KubeConfig, config: ServerConfig, logger: Logger, opts: DnsCaptureOptions = {}): Capture {
  const elector = new LeaderElector(kc, {
    identity: config.serverId, namespace: config.namespace, name: config.leaseName, logger, ...opts,
  });
  const writer = new DnsHostsWriter(kc, {
    namespace: config.namespace, configMapName: config.dnsConfigMap, key: DNS_HOSTS_KEY, serviceName: config.internalService,
    leader: elector, logger,
  });
  writer.start();
  elector.start();
  logger.info({ lease: `${config.namespace}/${config.leaseName}`, identity: config.serverId, configMap: `${config.namespace}/${config.dnsConfigMap}` }, 'dns capture started');
  return {
    update(nodes, ports) {
      writer.setNodes(nodes);
      writer.setPortConfig(ports); // custom ports appear on the internal Service (→ 10263/10264)
    },
    status: () => ({ mode: 'dns', leader: elector.isLeader, holder: elector.holder, writes: writer.writes }),
    async stop() {
      await writer.stop();
      await elector.stop({ release: true });
    },
  };
}
