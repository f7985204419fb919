// Sets of ports as sorted, disjoint, non-adjacent inclusive ranges, and their wire text: the range
// list "9051-9053,9100" or, when that would be longer, "b64:" + a 65 536-bit bitmap in base64
// (8 KiB, 10 928 characters: the bound on any set, however scattered).
import { DnatError, DnatErrorCode } from './errors.js';

/** An inclusive range; a single port has lo === hi. */
export interface PortSpan {
  readonly lo: number;
  readonly hi: number;
}

/** Prefix of the bitmap form. */
const BITMAP = 'b64:';
const BITMAP_BYTES = 65_536 / 8;
const RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** An immutable set of ports 1..65535. */
export class PortSet {
  static readonly EMPTY = new PortSet([]);
  /** every port: an agent flag left unset is this ceiling */
  static readonly ALL = new PortSet([{ lo: 1, hi: 65_535 }]);
  readonly spans: readonly PortSpan[];
  readonly size: number;

  private constructor(spans: PortSpan[]) {
    this.spans = Object.freeze(spans);
    this.size = spans.reduce((n, s) => n + s.hi - s.lo + 1, 0);
  }

  /** From ports in any order, duplicates allowed (each an integer 1..65535; others are ignored). */
  static of(ports: Iterable<number>): PortSet {
    const sorted = [...new Set(ports)].filter((p) => Number.isInteger(p) && p >= 1 && p <= 65_535).sort((a, b) => a - b);
    const spans: PortSpan[] = [];
    for (const p of sorted) {
      const last = spans[spans.length - 1];
      if (last !== undefined && last.hi + 1 === p) spans[spans.length - 1] = { lo: last.lo, hi: p };
      else spans.push({ lo: p, hi: p });
    }
    return new PortSet(spans);
  }

  /** From ranges in any order, overlaps allowed. */
  static ofSpans(spans: Iterable<PortSpan>): PortSet {
    const sorted = [...spans].filter((s) => s.lo >= 1 && s.hi <= 65_535 && s.lo <= s.hi).sort((a, b) => a.lo - b.lo);
    const out: PortSpan[] = [];
    for (const s of sorted) {
      const last = out[out.length - 1];
      if (last !== undefined && s.lo <= last.hi + 1) out[out.length - 1] = { lo: last.lo, hi: Math.max(last.hi, s.hi) };
      else out.push({ lo: s.lo, hi: s.hi });
    }
    return new PortSet(out);
  }

  /** Parses the wire text (either form; '' is the empty set). Throws ERR_DNAT_INVALID_PORT_SET. */
  static parse(text: string): PortSet {
    if (typeof text !== 'string') throw invalid('not a string');
    if (text.startsWith(BITMAP)) return fromBitmap(text.slice(BITMAP.length));
    if (text === '') return PortSet.EMPTY;
    const spans: PortSpan[] = [];
    for (const item of text.split(',')) {
      const m = RANGE.exec(item);
      const lo = Number(m?.[1]);
      const hi = m?.[2] === undefined ? lo : Number(m[2]);
      if (m === null || lo < 1 || hi > 65_535 || lo > hi) throw invalid(`"${item.slice(0, 20)}" is not a port or a range lo-hi of ports 1-65535`);
      spans.push({ lo, hi });
    }
    return PortSet.ofSpans(spans);
  }

  has(port: number): boolean {
    let a = 0;
    let b = this.spans.length - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      const s = this.spans[m]!;
      if (port < s.lo) b = m - 1;
      else if (port > s.hi) a = m + 1;
      else return true;
    }
    return false;
  }

  /** The ports of this set that `other` does not have. */
  minus(other: PortSet): PortSet {
    const out: PortSpan[] = [];
    let j = 0;
    for (const s of this.spans) {
      let lo = s.lo;
      while (j < other.spans.length && other.spans[j]!.hi < lo) j++;
      for (let k = j; k < other.spans.length && other.spans[k]!.lo <= s.hi; k++) {
        const o = other.spans[k]!;
        if (o.lo > lo) out.push({ lo, hi: o.lo - 1 });
        lo = Math.max(lo, o.hi + 1);
      }
      if (lo <= s.hi) out.push({ lo, hi: s.hi });
    }
    return new PortSet(out);
  }

  equals(other: PortSet): boolean {
    return this.spans.length === other.spans.length && this.spans.every((s, i) => s.lo === other.spans[i]!.lo && s.hi === other.spans[i]!.hi);
  }

  /** "9051-9053,9100" (for logs, /debug and hellos) */
  toString(): string {
    return this.spans.map((s) => (s.lo === s.hi ? String(s.lo) : `${s.lo}-${s.hi}`)).join(',');
  }

  /** The shorter wire form: the range list, or the bitmap when the set is scattered. */
  encode(): string {
    const ranges = this.toString();
    if (ranges.length <= BITMAP.length + Math.ceil(BITMAP_BYTES / 3) * 4) return ranges;
    const bits = Buffer.alloc(BITMAP_BYTES);
    for (const s of this.spans) for (let p = s.lo; p <= s.hi; p++) bits[p >> 3]! |= 1 << (p & 7);
    return BITMAP + bits.toString('base64');
  }
}

function fromBitmap(b64: string): PortSet {
  const bits = Buffer.from(b64, 'base64');
  if (bits.length !== BITMAP_BYTES || bits.toString('base64') !== b64) throw invalid(`a bitmap must be ${BITMAP_BYTES} bytes of base64`);
  const spans: PortSpan[] = [];
  let lo = -1;
  for (let p = 1; p <= 65_536; p++) {
    const on = p <= 65_535 && (bits[p >> 3]! & (1 << (p & 7))) !== 0;
    if (on && lo < 0) lo = p;
    else if (!on && lo >= 0) {
      spans.push({ lo, hi: p - 1 });
      lo = -1;
    }
  }
  return PortSet.ofSpans(spans);
}

function invalid(why: string): DnatError {
  return new DnatError(DnatErrorCode.INVALID_PORT_SET, `invalid port set: ${why}`);
}
