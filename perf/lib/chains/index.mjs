// Every chain the bench compares, in table order. Each: { name, label, kind, start(opts) →
// { endpoint, procs }, stop() }; the client reaches the sink through `endpoint` (client.mjs).
import { directChain } from './direct.mjs';
import { edgeTunnelChain, entryChain, passthroughChain } from './edge-tunnel.mjs';
import { tinyproxyMissing, transportChain } from './edge-tunnel-transports.mjs';
import { nodeRelayChain } from './node-relay.mjs';
import { sshChain, sshUnavailable } from './ssh.mjs';

/** @typedef {import('../procs.mjs').Proc} Proc */
/** @typedef {import('./util.mjs').ProcEntry} ProcEntry */
/**
 * The request/response sink (http-sink.mjs) as bench.mjs started it: plain, TLS, and the kubelet's 10250 when it could bind it.
 * @typedef {{ proc: Proc, pid?: number, httpPort: number, httpsPort: number, kubeletPort?: number, kubeletError?: string }} HttpSink
 */
/**
 * What every chain is built with (bench.mjs): the run's temp dir and certificates, the sink (sink.mjs),
 * the HTTP sink when started, the tunnel's log level, and whether the passthrough chain is measured.
 * @typedef {{ tmp: string, certs: import('../certs.mjs').Certs, sink: { host: string, port: number }, httpSink?: HttpSink, logLevel: string, passthrough?: boolean }} Env
 */
/**
 * A started chain: where the client dials, its processes, the tunnel server (edge-tunnel chains) and
 * `reqs`' targets by chain name and protocol ('http' | 'https').
 * @typedef {object} Started
 * @property {import('../client.mjs').Endpoint} [endpoint]
 * @property {ProcEntry[]} [procs]
 * @property {import('./edge-tunnel.mjs').Server} [server]
 * @property {Record<string, Record<string, import('../keepalive.mjs').ReqTarget>>} [reqs]
 */
/**
 * A chain of the bench: `kind` is 'baseline' | 'ceiling' | 'mux' | 'floor' | 'subject'; `scenarios` the
 * ones it runs (all when absent); `entryOf` the chain whose processes it is measured on.
 * @typedef {object} Chain
 * @property {string} name
 * @property {string} label
 * @property {string} kind
 * @property {string[]} [scenarios]
 * @property {string} [entryOf]
 * @property {(opts?: { link?: import('./util.mjs').LinkSpec }) => Promise<Started>} start
 * @property {() => Promise<void>} stop
 */

/** @param {Env} env */

export function allChains(env) {
  const ssh = sshUnavailable();
  const noProxy = tinyproxyMissing();
  const chains = [
    directChain(env),
    nodeRelayChain(env, 'tls'),
    nodeRelayChain(env, 'h2'),
    ...(ssh ? [] : [sshChain(env)]),
    nodeRelayChain(env, 'yamux'),
    nodeRelayChain(env, 'floor'),
    edgeTunnelChain(env, { compression: false }),
    edgeTunnelChain(env, { compression: true }),
    entryChain('http'),
    entryChain('https'),
    passthroughChain(),
    transportChain(env, { transport: 'websocket', proxy: false }),
    ...(noProxy ? [] : [transportChain(env, { transport: 'tls', proxy: true }), transportChain(env, { transport: 'websocket', proxy: true })]),
  ];
  const notes = [...(ssh ? [`OpenSSH chain skipped: ${ssh}`] : []), ...(noProxy ? [`proxy chains skipped: ${noProxy}`] : [])];
  return { chains, notes, extra: { sshCompressed: ssh ? undefined : sshChain(env, { compress: true }) } };
}
