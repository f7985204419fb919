// Cluster mode: the Kubernetes side of the server. Edge Nodes (label selectors) feed the node table
// and admit agents; the port ConfigMap is the port config source (rejections → Event + warn +
// /debug/config); kubelet pod paths find the pod's node; the CA Secret and the bootstrap token
// Secret make the agent enroller; capture (iptables or dns) follows nodes and config.
import type { IptablesRunner } from '@edge-tunnel/capture';
import {
  EdgeNodeWatcher,
  Enroller,
  EventRecorder,
  PodLocator,
  PortConfigMapWatcher,
  ReplicaMembership,
  loadKubeConfig,
  loadOrCreateCa,
  parseKubeletPath,
} from '@edge-tunnel/kube';
import type { EdgeNode, MemberReplica } from '@edge-tunnel/kube';
import type { ListenAddr } from '../addr.js';
import type { ServerConfig } from '../config.js';
import { ServerError, ServerErrorCode } from '../errors.js';
import { startIptablesCapture } from '../capture/iptables.js';
import { iptablesTargets } from '../capture/targets.js';
import type { Logger } from '../logger.js';
import type { PortConfigSource } from '../port-config-source.js';
import type { PodRoute } from '../proxy/dest.js';
import type { Reviews } from '../proxy/token-auth.js';
import { startDnsCapture } from './capture.js';
import { apiReviews } from './reviews.js';
import type { Capture, DnsCaptureOptions, KubeConfig } from './capture.js';
import { EdgeAgentRegistry } from './edge-registry.js';
import { ConflictReporter, NODE_IP_CONFLICT_REASON, withoutForeignIps } from './ip-claims.js';

/** Test seams of cluster mode (start options). */
export interface ClusterOptions {
  /** runs iptables-save/-restore and conntrack (default: child processes) */
  iptablesRunner?: IptablesRunner;
  /** leader election timings of dns capture */
  leaderElection?: DnsCaptureOptions;
}

export interface Cluster {
  registry: EdgeAgentRegistry;
  portConfig: PortConfigSource;
  /** the CA of --ca-secret (PEM): it signs enrolled agents, so the agent listener trusts it too */
  caPem: string;
  enroller: Enroller;
  pods: PodRoute;
  /** TokenReview / SubjectAccessReview for bearer-token callers on :10263 */
  reviews: Reviews;
  /** edge Nodes loaded and the port ConfigMap listed */
  synced(): boolean;
  /** reports the replicas (this one included): the endpoints of --replica-service, terminating ones excepted */
  startMembership(self: MemberReplica, onChange: (replicas: MemberReplica[]) => void): void;
  /** starts capture once the proxies are bound (their ports are the iptables targets) */
  startCapture(bound: { https: ListenAddr; http: ListenAddr }): void;
  /** a Warning Event on the edge Node (reason PORTS_REFUSED_REASON): its agent refuses configured ports */
  nodeWarning(nodeName: string, message: string): void;
  /** /debug/cluster */
  status(): Record<string, unknown>;
  /** capture removed (iptables rules, Lease released), informers stopped */
  stop(): Promise<void>;
}

/** Agent refused for its Node: the Event reason on the Node. */
export const AGENT_REFUSED_REASON = 'AgentRefused';
/** Configured ports the node's agent refuses (its ceiling): the Event reason on the Node. */
export const PORTS_REFUSED_REASON = 'PortsRefusedByAgent';

export async function startCluster(config: ServerConfig, logger: Logger, opts: ClusterOptions = {}): Promise<Cluster> {
  const log = logger.child({ component: 'cluster' });
  const kc = kubeConfig(config);
  const ns = config.namespace;
  const events = new EventRecorder(kc, { logger: logger.child({ component: 'events' }) });
  const ca = await loadCa(kc, config, log);
  const caPem = ca.certPem;
  const enroller = new Enroller(kc, {
    ca,
    namespace: ns,
    secretName: config.bootstrapTokenSecret,
    recordsName: config.enrollmentsConfigMap,
    selectors: config.edgeNodeSelectors,
    logger: logger.child({ component: 'enroll' }),
  });
  const registry = new EdgeAgentRegistry({
    selectors: config.edgeNodeSelectors,
    onRefused: (agent, reason) => void events.record({ apiVersion: 'v1', kind: 'Node', name: agent.nodeName }, 'Warning', AGENT_REFUSED_REASON, reason),
    onBadIp: (nodeName, ip) => log.warn({ nodeName, nodeIp: ip }, 'node address is not an IP: skipped'),
  });
  const nodes = new EdgeNodeWatcher(kc, { selectors: config.edgeNodeSelectors, logger: logger.child({ component: 'nodes' }) });
  const portConfig = new PortConfigMapWatcher(kc, { namespace: ns, name: config.portConfigMap, events, logger: logger.child({ component: 'port-config' }) });
  const locator = new PodLocator(kc, { ttlMs: config.podCacheTtlMs, logger: logger.child({ component: 'pods' }) });
  let capture: Capture | undefined;
  let membership: ReplicaMembership | undefined;
  let nodesLoaded = false;
  let configSynced = false;

  const conflicts = new ConflictReporter((conflict, message) => {
    log.warn({ nodeIp: conflict.ip, nodes: conflict.nodes, reason: message }, 'node ip conflict: refused for every claimant');
    for (const name of conflict.nodes) void events.record({ apiVersion: 'v1', kind: 'Node', name }, 'Warning', NODE_IP_CONFLICT_REASON, message);
  });
  /** What the table and capture get: edge Nodes' IPs, none that another Node lists too. */
  const capturable = (): EdgeNode[] => registry.table.nodes().map((n) => ({ name: n.name, ips: [...n.ips] }));
  const applyNodes = (): void => {
    const claimed = withoutForeignIps(nodes.nodes(), nodes.ipClaims());
    const { removed } = registry.setEdgeNodes(claimed.nodes);
    conflicts.update([...claimed.conflicts, ...registry.table.conflicts()]);
    for (const { name, session } of removed) {
      log.info({ nodeName: name, connected: session !== undefined }, 'edge node removed');
      if (session === undefined) continue;
      session.session.goAway('REFUSED', `node ${name} is no longer an edge Node`);
      void session.session.close(config.drainTimeoutMs);
    }
    capture?.update(capturable(), portConfig.current().config);
  };
  nodes.on('change', () => nodesLoaded && applyNodes());
  nodes.on('claims', () => nodesLoaded && applyNodes());
  portConfig.on('change', (state) => nodesLoaded && capture?.update(capturable(), state.config));
  nodes.start();
  portConfig.start();
  void nodes.whenSynced().then(() => {
    nodesLoaded = true;
    applyNodes();
    log.info({ nodes: registry.table.size, selectors: config.edgeNodeSelectors }, 'edge nodes loaded');
  });
  void portConfig.whenSynced().then(() => (configSynced = true));

  return {
    registry,
    portConfig,
    caPem,
    enroller,
    reviews: apiReviews(kc),
    pods: { podOf: parseKubeletPath, podNode: (namespace, pod) => locator.locate(namespace, pod) },
    // the replica set too: a replica that does not know its peers yet could turn ready too early
    synced: () => nodesLoaded && configSynced && (membership?.synced ?? true),
    startMembership(self, onChange) {
      membership = new ReplicaMembership(kc, { self, namespace: ns, service: config.replicaService, logger: logger.child({ component: 'replicas' }) });
      membership.on('change', onChange);
      membership.start();
    },
    startCapture(bound) {
      const clog = logger.child({ component: 'capture' });
      if (config.capture === 'iptables') {
        capture = startIptablesCapture({
          ...iptablesTargets(config, bound),
          resyncIntervalMs: config.iptablesResyncMs,
          otherPorts: config.iptablesOtherPorts,
          runner: opts.iptablesRunner,
          logger: clog,
        });
      } else if (config.capture === 'dns') {
        capture = startDnsCapture(kc, config, clog, opts.leaderElection);
      }
      if (nodesLoaded) capture?.update(capturable(), portConfig.current().config);
    },
    nodeWarning: (name, message) => void events.record({ apiVersion: 'v1', kind: 'Node', name }, 'Warning', PORTS_REFUSED_REASON, message),
    status: () => ({
      mode: 'cluster',
      nodesSynced: nodes.synced,
      configSynced,
      edgeNodes: registry.table.size,
      selectors: config.edgeNodeSelectors,
      informerRestarts: nodes.restarts + portConfig.restarts,
      podCacheEntries: locator.size,
      capture: capture?.status() ?? { mode: config.capture },
      replicas: membership?.replicas ?? [],
      ipConflicts: conflicts.current(),
    }),
    async stop() {
      // the others drop us when the endpoints controller marks our endpoint terminating (pod deleted)
      await membership?.stop();
      await capture?.stop();
      await Promise.all([nodes.stop(), portConfig.stop()]);
    },
  };
}

function kubeConfig(config: ServerConfig): KubeConfig {
  try {
    return loadKubeConfig({ kubeconfig: config.kubeconfig, inCluster: config.kubeconfig === undefined });
  } catch (err) {
    throw new ServerError(ServerErrorCode.KUBERNETES, (err as Error).message, { cause: err });
  }
}

async function loadCa(kc: KubeConfig, config: ServerConfig, log: Logger): ReturnType<typeof loadOrCreateCa> {
  try {
    return await loadOrCreateCa(kc, { namespace: config.namespace, name: config.caSecret, logger: log });
  } catch (err) {
    throw new ServerError(
      ServerErrorCode.KUBERNETES,
      `the agent CA (Secret ${config.namespace}/${config.caSecret}) cannot be loaded: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
