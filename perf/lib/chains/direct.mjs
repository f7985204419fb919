// direct: the client dials the sink (through the link, when the scenario has one).
import { stopAll, viaLink } from './util.mjs';

export function directChain(env) {
  const procs = [];
  return {
    name: 'direct',
    label: 'direct (no relay)',
    kind: 'baseline',
    async start(opts = {}) {
      const entry = await viaLink(opts.link, env.sink.host, env.sink.port, procs);
      return { endpoint: entry, procs };
    },
    stop: () => stopAll(procs),
  };
}
