// The network-namespace testbed: public surface.
export { startTestbed, chooseMode, portConfigText, type Testbed } from './testbed.js';
export { startPrometheus, prometheusConfig, type PrometheusHandle, type PrometheusOptions, type TargetHealth } from './prometheus.js';
export { CaptureFollower, configData, type CaptureFollowerOptions } from './capture.js';
export { planTopology, MAX_EDGES, NS_PREFIX, SERVER_PORTS, type EdgePlan, type TestbedMode, type TestbedOptions, type TopologyPlan } from './options.js';
export { netnsUnavailable } from './topology.js';
export { execIn, listNamespaces, nsArgv, type ExecResult } from './exec.js';
export type { TestbedProcess } from './processes.js';
export type { TestbedCerts } from './certs.js';
