// The network-namespace testbed: public surface.
export { startTestbed, chooseMode, type Testbed } from './testbed.js';
export { portConfigText, writePortConfig } from './port-config-file.js';
export type { ServerCaptureStatus } from './server-meta.js';
export { startPrometheus, prometheusConfig, type PrometheusHandle, type PrometheusOptions, type TargetHealth } from './prometheus.js';
export { planTopology, MAX_EDGES, NS_PREFIX, SERVER_PORTS, type EdgePlan, type TestbedMode, type TestbedOptions, type TopologyPlan } from './options.js';
export { netnsUnavailable } from './topology.js';
export { execIn, listNamespaces, nsArgv, type ExecResult } from './exec.js';
export type { TestbedProcess } from './processes.js';
export type { TestbedCerts } from './certs.js';
