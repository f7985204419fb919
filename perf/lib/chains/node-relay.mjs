// The Node peers (see ../relay.mjs): an egress process next to the sink, an ingress process the
// client dials, one TLS "WAN" hop between them (through the link, when the scenario has one).
import { spawnHelper, stopAll, viaLink } from './util.mjs';

const LABELS = {
  tls: 'Node TLS relay (1 conn/stream)',
  h2: 'Node HTTP/2 mux',
  yamux: 'JS yamux mux (libp2p)',
  floor: 'floor: the least a Node mux does (perf/lib/floor-mux.mjs)',
};

/**
 * @param {import('./index.mjs').Env} env @param {keyof LABELS} kind
 * @returns {import('./index.mjs').Chain}
 */
export function nodeRelayChain(env, kind) {
  /** @type {import('./util.mjs').ProcEntry[]} */
  const procs = [];
  return {
    name: kind === 'tls' ? 'tls-relay' : kind,
    label: LABELS[kind],
    kind: kind === 'tls' ? 'ceiling' : kind === 'floor' ? 'floor' : 'mux',
    // the floor has no per-stream flow control: a stalled reader would stop every stream
    scenarios: kind === 'floor' ? ['bulk1', 'multi16', 'multi256', 'rtt', 'churn', 'idle'] : undefined,
    async start(opts = {}) {
      const cfg = {
        sinkHost: env.sink.host,
        sinkPort: env.sink.port,
        key: env.certs.path('server', 'key'),
        cert: env.certs.path('server', 'crt'),
        ca: env.certs.path('ca', 'crt'),
      };
      const egress = await spawnHelper(`${kind}-egress`, 'relay.mjs', [kind, 'egress'], { PERF_RELAY: JSON.stringify(cfg) });
      procs.push({ role: 'egress', proc: egress.proc, measured: true });
      const wan = await viaLink(opts.link, '127.0.0.1', egress.port, procs);
      const ingress = await spawnHelper(`${kind}-ingress`, 'relay.mjs', [kind, 'ingress'], {
        PERF_RELAY: JSON.stringify({ ...cfg, wanHost: wan.host, wanPort: wan.port }),
      });
      procs.push({ role: 'ingress', proc: ingress.proc, measured: true });
      return { endpoint: { host: '127.0.0.1', port: ingress.port }, procs };
    },
    stop: () => stopAll(procs),
  };
}
