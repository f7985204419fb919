// The network-namespace testbed: public surface.
export { startTestbed, chooseMode, type Testbed, type TestbedProxy } from './testbed.js';
export { Squid, squidMissing, type SquidOptions } from './squid.js';
export { DELAY_LINE_SCRIPT, delayLineMissing, lineSpec, shapeOf, type DelayLineCounts, type DirectionCounts, type WeakLink } from './delay-line.js';
export { daemonSetContainer, expandKubeVars, type AgentLaunch } from './agent-launch.js';
export { portConfigText, writePortConfig } from './port-config-file.js';
export type { ServerCaptureStatus } from './server-meta.js';
export { startPrometheus, prometheusConfig, type PrometheusHandle, type PrometheusOptions, type TargetHealth } from './prometheus.js';
export {
  planTopology,
  MAX_EDGES,
  NS_PREFIX,
  PROXY_PORT,
  SERVER_PORTS,
  type EgressProxyOptions,
  type LinkShape,
  type WeakLinkOptions,
  type WirePlan,
  type ProxyPlan,
  type EdgePlan,
  type TestbedMode,
  type TestbedOptions,
  type TopologyPlan,
} from './options.js';
export { netnsUnavailable } from './topology.js';
export { execIn, listNamespaces, nsArgv, type ExecResult } from './exec.js';
export type { TestbedProcess } from './processes.js';
export type { TestbedCerts } from './certs.js';
