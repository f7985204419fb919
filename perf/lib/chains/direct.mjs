// direct: the client dials the sink (through the link, when the scenario has one).
import { stopAll, viaLink } from './util.mjs';

/** @param {import('./index.mjs').Env} env @returns {import('./index.mjs').Chain} */
export function directChain(env) {
  /** @type {import('./util.mjs').ProcEntry[]} */
  const procs = [];
  return {
    name: 'direct',
    label: 'direct (no relay)',
    kind: 'baseline',
    async start(opts = {}) {
      const entry = await viaLink(opts.link, env.sink.host, env.sink.port, procs);
      const sink = env.httpSink;
      // `reqs`: the HTTP sink itself, plain and TLS (no link: that scenario has none)
      const reqs = sink
        ? {
            direct: {
              http: { host: env.sink.host, port: sink.httpPort, hostHeader: `${env.sink.host}:${sink.httpPort}` },
              https: { host: env.sink.host, port: sink.httpsPort, hostHeader: `${env.sink.host}:${sink.httpsPort}`, tls: { ca: env.certs.caPem } },
            },
          }
        : {};
      return { endpoint: entry, procs, reqs };
    },
    stop: () => stopAll(procs),
  };
}
