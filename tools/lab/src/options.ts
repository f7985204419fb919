// What the lab runs: the nodes it emulates and the addresses of the server's listeners.

export interface LabNode {
  name: string;
  /** a loopback address standing in for the edge node's IP */
  ip: string;
  /** flags appended to this node's agent only (e.g. an --allow-ports ceiling) */
  agentArgs?: string[];
}

export interface LabPorts {
  agent: number;
  https: number;
  http: number;
  meta: number;
  connect: number;
  /** the exporter on each node, opened through dnat-ports-pair */
  exporter: number;
}

export interface LabOptions {
  nodes?: LabNode[];
  /** where the server listens (the "cloud") */
  serverHost?: string;
  ports?: Partial<LabPorts>;
  /** where certificates, config and logs go; default a new temp dir */
  dir?: string;
  /** receives every log line of every process, already formatted */
  log?: (line: string) => void;
  /** an --allow-ports ceiling for every agent (default none: the agents follow the server's port config) */
  agentAllowPorts?: number[];
  /** pretty (default) or raw JSON log lines */
  pretty?: boolean;
  /** extra flags appended to the server's command line (e.g. keepalive timings) */
  serverArgs?: string[];
  /** extra flags appended to every agent's command line (e.g. backoff timings) */
  agentArgs?: string[];
  /** host:port the agents dial (their --server) instead of the server's agent port: a proxy or load balancer in the path */
  agentServerAddr?: string;
  /** runs once the certificates are written, before any process starts (e.g. a proxy that needs them) */
  onCerts?: (certDir: string) => Promise<void>;
}

export const DEFAULT_NODES: readonly LabNode[] = [
  { name: 'edge-1', ip: '127.0.10.1' },
  { name: 'edge-2', ip: '127.0.10.2' },
];

export const DEFAULT_PORTS: LabPorts = {
  agent: 10262,
  https: 10263,
  http: 10264,
  meta: 10265,
  connect: 8131,
  exporter: 9100,
};
