// Flushing conntrack entries of flows whose DNAT changed: an established flow keeps the NAT decision
// made for its first packet, so without this a removed port keeps landing on the listener (and an
// added one keeps going to the edge) until the flow ends.
import { COMMAND_NOT_FOUND } from './iptables.js';
import type { IptablesRunner } from './iptables.js';
import type { CaptureLogger } from './logger.js';
import type { Flow } from './rules.js';

/** A captured destination: node IP and port. */
export interface FlowKey {
  readonly ip: string;
  readonly port: number;
}

/** Destinations whose landing changed from `before` to `after` (added, removed, or new target). */
export function changedFlows(before: readonly Flow[], after: readonly Flow[]): FlowKey[] {
  const key = (f: FlowKey): string => `${f.ip} ${f.port}`;
  const a = new Map(before.map((f) => [key(f), f.target]));
  const b = new Map(after.map((f) => [key(f), f.target]));
  const out: FlowKey[] = [];
  for (const f of before) if (b.get(key(f)) !== f.target) out.push(f);
  for (const f of after) if (!a.has(key(f))) out.push(f);
  return out.map(({ ip, port }) => ({ ip, port })).sort((x, y) => x.port - y.port || (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0));
}

/** The original (ip, port) destinations in `conntrack -L -p tcp` output, as `"<ip> <port>"`. */
export function parseConntrackDestinations(list: string): Set<string> {
  const out = new Set<string>();
  for (const line of list.split('\n')) {
    const m = /\bdst=(\S+)\s.*?\bdport=(\d+)\b/.exec(line);
    if (m) out.add(`${m[1]} ${m[2]}`);
  }
  return out;
}

/** What a flush did. */
export interface FlushResult {
  /** false when the conntrack binary is missing or failed */
  readonly available: boolean;
  /** destinations whose entries were deleted */
  readonly flushed: number;
}

/**
 * Lists TCP conntrack entries once and deletes, per changed destination that has entries,
 * `conntrack -D -p tcp --orig-dst <ip> --orig-port-dst <port>`. A missing binary is a debug line.
 */
export async function flushConntrack(runner: IptablesRunner, cmd: string, flows: readonly FlowKey[], logger: CaptureLogger): Promise<FlushResult> {
  if (flows.length === 0) return { available: true, flushed: 0 };
  const list = await runner.run(cmd, ['-L', '-p', 'tcp']);
  if (list.code === COMMAND_NOT_FOUND) {
    logger.debug({ reason: 'conntrack not installed' }, 'conntrack flush skipped');
    return { available: false, flushed: 0 };
  }
  if (list.code !== 0) {
    logger.warn({ code: list.code, err: list.stderr.trim() }, 'conntrack list failed');
    return { available: false, flushed: 0 };
  }
  const present = parseConntrackDestinations(list.stdout);
  let flushed = 0;
  for (const { ip, port } of flows) {
    if (!present.has(`${ip} ${port}`)) continue;
    const res = await runner.run(cmd, ['-D', '-p', 'tcp', '--orig-dst', ip, '--orig-port-dst', String(port)]);
    // exit 1 with "0 flow entries have been deleted": the entries ended in between
    if (res.code === 0) flushed++;
    else if (res.code !== 1) logger.warn({ nodeIp: ip, port, code: res.code, err: res.stderr.trim() }, 'conntrack delete failed');
  }
  if (flushed > 0) logger.debug({ flows: flushed }, 'conntrack entries flushed');
  return { available: true, flushed };
}
