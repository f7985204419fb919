// iptables capture + HTTPS passthrough: the node IP and port a caller dialled, from the conntrack
// entry of its connection (@edge-tunnel/capture lookupOriginalDst). A lookup that finds nothing lets
// the connection be routed by its SNI; a conntrack that fails is one warn line (then debug lines),
// as every connection would repeat it. Lookups run only for connections whose ClientHello is in
// (silent connections spawn nothing), at most MAX_LOOKUPS_IN_FLIGHT processes at once, the rest
// queued in order (a burst of callers cannot fork-bomb the server).
import type { Socket } from 'node:net';
import { createRunner, lookupOriginalDst } from '@edge-tunnel/capture';
import type { IptablesRunner, OriginalDst } from '@edge-tunnel/capture';
import type { Logger } from '../logger.js';
import type { OriginalDstLookup } from '../proxy/passthrough.js';

/** A conntrack call that has not answered in this long is killed (the connection falls back to SNI). */
export const ORIGINAL_DST_TIMEOUT_MS = 2_000;
/** conntrack processes running at once; more lookups wait for one to end */
export const MAX_LOOKUPS_IN_FLIGHT = 16;

export function originalDstLookup(runner: IptablesRunner | undefined, log: Logger): OriginalDstLookup {
  const run = limited(runner ?? createRunner({ timeoutMs: ORIGINAL_DST_TIMEOUT_MS }), MAX_LOOKUPS_IN_FLIGHT);
  let warned = false;
  return async (socket: Socket): Promise<OriginalDst | undefined> => {
    const { localAddress, localPort, remoteAddress, remotePort } = socket;
    if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) return undefined;
    const r = await lookupOriginalDst(run, { localAddress, localPort, remoteAddress, remotePort });
    if (r.ok) return r.dst;
    if (r.reason === 'conntrack-failed') {
      const fields = { listener: 'https', remoteAddress, reason: r.detail };
      if (warned) log.debug(fields, 'original destination lookup failed');
      else
        log.warn(
          {
            ...fields,
            hint: 'passthrough of iptables-captured node IPs needs the conntrack binary and CAP_NET_ADMIN; until then connections are routed by SNI only',
          },
          'original destination lookup failed',
        );
      warned = true;
    }
    return undefined;
  };
}

/** `runner` with at most `max` commands running; the others start in order as those end. */
export function limited(runner: IptablesRunner, max: number): IptablesRunner {
  let running = 0;
  const waiting: Array<() => void> = [];
  return {
    async run(cmd, args, stdin) {
      if (running >= max) await new Promise<void>((r) => waiting.push(r));
      running++;
      try {
        return await runner.run(cmd, args, stdin);
      } finally {
        running--;
        waiting.shift()?.();
      }
    },
  };
}
