// iptables capture + HTTPS passthrough: the node IP and port a caller dialled, from the conntrack
// entry of its connection (@edge-tunnel/capture lookupOriginalDst). A lookup that finds nothing lets
// the connection be routed by its SNI; a conntrack that fails is one warn line (then debug lines),
// as every connection would repeat it.
import type { Socket } from 'node:net';
import { createRunner, lookupOriginalDst } from '@edge-tunnel/capture';
import type { IptablesRunner, OriginalDst } from '@edge-tunnel/capture';
import type { Logger } from '../logger.js';
import type { OriginalDstLookup } from '../proxy/passthrough.js';

/** A conntrack call that has not answered in this long is killed (the connection falls back to SNI). */
export const ORIGINAL_DST_TIMEOUT_MS = 2_000;

export function originalDstLookup(runner: IptablesRunner | undefined, log: Logger): OriginalDstLookup {
  const run = runner ?? createRunner({ timeoutMs: ORIGINAL_DST_TIMEOUT_MS });
  let warned = false;
  return async (socket: Socket): Promise<OriginalDst | undefined> => {
    const { localAddress, localPort, remoteAddress, remotePort } = socket;
    if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) return undefined;
    const r = await lookupOriginalDst(run, { localAddress, localPort, remoteAddress, remotePort });
    if (r.ok) return r.dst;
    if (r.reason === 'conntrack-failed') {
      const fields = { listener: 'https', remoteAddress, reason: r.detail };
      if (warned) log.debug(fields, 'original destination lookup failed');
      else log.warn({ ...fields, hint: 'passthrough of iptables-captured node IPs needs the conntrack binary and CAP_NET_ADMIN; until then connections are routed by SNI only' }, 'original destination lookup failed');
      warned = true;
    }
    return undefined;
  };
}
