// The destination a caller dialled before our DNAT rewrote it, read from its conntrack entry: Node
// has no getsockopt(SO_ORIGINAL_DST), so the server asks `conntrack -L` for the one flow whose reply
// tuple is the accepted connection (reply src = our listener, reply dst = the caller). The kernel
// filters the table; one lookup is one short process (cost in perf/findings/2026-12-07-https-passthrough.md).
// Works wherever the DNAT happened in the server's own network namespace (our iptables capture
// installs it there); a connection that was not DNATed has no such entry, or one whose original
// destination is the listener itself: both are `undefined`.
import type { IptablesRunner } from './iptables.js';

/** Both ends of an accepted TCP connection, as the listener sees them. */
export interface AcceptedTuple {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/** An original destination: the node IP and port the caller dialled. */
export interface OriginalDst {
  readonly ip: string;
  readonly port: number;
}

/** `conntrack` arguments that list only the entry of `t` (matched on its reply tuple). */
export function originalDstArgs(t: AcceptedTuple): string[] {
  return [
    '-L',
    '-p',
    'tcp',
    '--reply-src',
    t.localAddress,
    '--reply-port-src',
    String(t.localPort),
    '--reply-dst',
    t.remoteAddress,
    '--reply-port-dst',
    String(t.remotePort),
  ];
}

/**
 * The original destination in `conntrack -L` output for the entry of `t`: the first tuple's dst and
 * dport, on the line whose second tuple is `t`'s reply. Undefined when no line matches or the flow
 * was not rewritten (its original destination is the listener).
 */
export function parseOriginalDst(list: string, t: AcceptedTuple): OriginalDst | undefined {
  for (const line of list.split('\n')) {
    const tuples = [...line.matchAll(/\bsrc=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/g)];
    if (tuples.length < 2) continue;
    const [orig, reply] = [tuples[0]!, tuples[1]!];
    const replyMatches = reply[1] === t.localAddress && reply[2] === t.remoteAddress && Number(reply[3]) === t.localPort && Number(reply[4]) === t.remotePort;
    if (!replyMatches) continue;
    const ip = orig[2]!;
    const port = Number(orig[4]);
    if (ip === t.localAddress && port === t.localPort) return undefined;
    return { ip, port };
  }
  return undefined;
}

/** Why a lookup found nothing: no entry (not DNATed here), or conntrack itself failed. */
export type OriginalDstResult = { ok: true; dst: OriginalDst } | { ok: false; reason: 'no-entry' | 'conntrack-failed'; detail?: string };

/** Asks conntrack (`cmd`, default `conntrack`) for the original destination of `t`. Never rejects. */
export async function lookupOriginalDst(runner: IptablesRunner, t: AcceptedTuple, cmd = 'conntrack'): Promise<OriginalDstResult> {
  const res = await runner.run(cmd, originalDstArgs(t));
  if (res.code !== 0) return { ok: false, reason: 'conntrack-failed', detail: `${cmd} exited ${res.code}: ${res.stderr.trim().split('\n').at(-1) ?? ''}` };
  const dst = parseOriginalDst(res.stdout, t);
  return dst === undefined ? { ok: false, reason: 'no-entry' } : { ok: true, dst };
}
