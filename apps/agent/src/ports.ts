// Port lists as operators write them: "9100-9199,9051". Pure parsing and membership.

/** An inclusive port range; a single port has lo === hi. */
export interface PortRange {
  lo: number;
  hi: number;
}

const PORT_RE = /^\d{1,5}$/;

function parsePort(text: string): number | undefined {
  if (!PORT_RE.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65_535 ? port : undefined;
}

/** Parses "9100-9199,9051"; returns the ranges or a sentence saying what is wrong. */
export function parsePortList(text: string): PortRange[] | string {
  const ranges: PortRange[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const [loText, hiText, extra] = item.split('-').map((s) => s.trim());
    const lo = parsePort(loText ?? '');
    const hi = hiText === undefined ? lo : parsePort(hiText);
    if (extra !== undefined || lo === undefined || hi === undefined) {
      return `"${item}" is not a port (1-65535) or a range like 9100-9199`;
    }
    if (lo > hi) return `range "${item}" ends before it starts`;
    ranges.push({ lo, hi });
  }
  return ranges;
}

export function inPorts(ranges: readonly PortRange[], port: number): boolean {
  return ranges.some((r) => port >= r.lo && port <= r.hi);
}

export function formatPorts(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.lo === r.hi ? String(r.lo) : `${r.lo}-${r.hi}`)).join(',');
}
