// Traffic capture in cluster mode. iptables (../capture/iptables.ts) follows the edge Nodes' IPs and
// the port ConfigMap. dns: the Lease leader writes the hosts ConfigMap (edge node names → the
// internal Service) for CoreDNS.
import type { PortConfig } from '@edge-tunnel/dnat';
import { DnsHostsWriter, LeaderElector } from '@edge-tunnel/kube';
import type { EdgeNode, loadKubeConfig } from '@edge-tunnel/kube';
import type { ServerConfig } from '../config.js';
import type { Logger } from '../logger.js';

/** What the cluster wiring tells a capture. */
export interface Capture {
  /** the edge Nodes (once loaded) and the active port config, after every change */
  update(nodes: readonly EdgeNode[], config: PortConfig): void;
  status(): Record<string, unknown>;
  stop(): Promise<void>;
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
    identity: config.serverId,
    namespace: config.namespace,
    name: config.leaseName,
    logger,
    ...opts,
  });
  const writer = new DnsHostsWriter(kc, {
    namespace: config.namespace,
    configMapName: config.dnsConfigMap,
    key: DNS_HOSTS_KEY,
    serviceName: config.internalService,
    clusterDomain: config.clusterDomain,
    leader: elector,
    logger,
  });
  writer.start();
  elector.start();
  logger.info(
    { lease: `${config.namespace}/${config.leaseName}`, identity: config.serverId, configMap: `${config.namespace}/${config.dnsConfigMap}` },
    'dns capture started',
  );
  return {
    update(nodes, ports) {
      writer.setNodes(nodes);
      writer.setPortConfig(ports); // custom ports appear on the internal Service (→ 10263/10264)
    },
    status: () => ({
      mode: 'dns',
      leader: elector.isLeader,
      holder: elector.holder,
      writes: writer.writes,
      unpublished: writer.refused.map((r) => ({ nodeName: r.nodeName, code: r.code })),
    }),
    async stop() {
      await writer.stop();
      await elector.stop({ release: true });
    },
  };
}
