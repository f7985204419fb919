// Sets of ports as sorted, disjoint, non-adjacent inclusive ranges (one flat Uint16Array), and their wire text: the range
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
/** For each byte value, its runs of one bits as [first, last, first, last, …] (bit 0 = lowest port). */
const RUNS: readonly (readonly number[])[] = Array.from({ length: 256 }, (_, b) => {
  const runs: number[] = [];
  for (let bit = 0; bit < 8; bit++) {
    if (!((b >> bit) & 1)) continue;
    if (bit > 0 && (b >> (bit - 1)) & 1) runs[runs.length - 1] = bit;
    else runs.push(bit, bit);
  }
  return runs;
});

/** An immutable set of ports 1..65535, held as one flat array of bounds (no object per range). */
export class PortSet {
  static readonly EMPTY = new PortSet(new Uint16Array(0));
  /** every port: an agent flag left unset is this ceiling */
  static readonly ALL = new PortSet(Uint16Array.of(1, 65_535));
  /** [lo0, hi0, lo1, hi1, …]: sorted, disjoint, non-adjacent */
  private readonly b: Uint16Array;
  readonly size: number;

  private constructor(bounds: Uint16Array) {
    this.b = bounds;
    let n = 0;
    for (let i = 0; i < bounds.length; i += 2) n += bounds[i + 1]! - bounds[i]! + 1;
    this.size = n;
  }

  /** The ranges, as objects (for callers; the set itself holds none). */
  get spans(): PortSpan[] {
    const out: PortSpan[] = [];
    for (let i = 0; i < this.b.length; i += 2) out.push({ lo: this.b[i]!, hi: this.b[i + 1]! });
    return out;
  }

  /** From ports in any order, duplicates allowed (each an integer 1..65535; others are ignored). */
  static of(ports: Iterable<number>): PortSet {
    const sorted = [...new Set(ports)].filter((p) => Number.isInteger(p) && p >= 1 && p <= 65_535).sort((a, c) => a - c);
    return PortSet.ofSpans(sorted.map((p) => ({ lo: p, hi: p })));
  }

  /** From ranges in any order, overlaps allowed. */
  static ofSpans(spans: Iterable<PortSpan>): PortSet {
    const sorted = [...spans].filter((r) => r.lo >= 1 && r.hi <= 65_535 && r.lo <= r.hi).sort((a, c) => a.lo - c.lo);
    const out: number[] = [];
    for (const r of sorted) {
      const n = out.length;
      if (n > 0 && r.lo <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, r.hi);
      else out.push(r.lo, r.hi);
    }
    return new PortSet(Uint16Array.from(out));
  }

  /** Parses the wire text (either form; '' is the empty set). Throws ERR_DNAT_INVALID_PORT_SET. */
  static parse(text: string): PortSet {
    if (typeof text !== 'string') throw invalid('not a string');
    if (text.startsWith(BITMAP)) return PortSet.fromBitmap(text.slice(BITMAP.length));
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

  /** The bitmap form, a byte at a time: empty and full bytes whole, others by their runs of ones. */
  private static fromBitmap(b64: string): PortSet {
    const bits = Buffer.from(b64, 'base64');
    if (bits.length !== BITMAP_BYTES || bits.toString('base64') !== b64) throw invalid(`a bitmap must be ${BITMAP_BYTES} bytes of base64`);
    bits[0]! &= 0xfe; // port 0 is never in a set
    const out = new Uint16Array(65_536); // at most 32 768 ranges
    let n = 0;
    let lo = -1; // start of a range still open at the end of the previous byte
    for (let i = 0; i < BITMAP_BYTES; i++) {
      const byte = bits[i]!;
      const base = i * 8;
      if (byte === 0xff) {
        if (lo < 0) lo = base;
        continue;
      }
      const runs = RUNS[byte]!;
      if (lo >= 0 && (runs.length === 0 || runs[0] !== 0)) {
        out[n++] = lo;
        out[n++] = base - 1;
        lo = -1;
      }
      for (let r = 0; r < runs.length; r += 2) {
        const from = r === 0 && lo >= 0 ? lo : base + runs[r]!;
        if (runs[r + 1] === 7) lo = from;
        else {
          out[n++] = from;
          out[n++] = base + runs[r + 1]!;
          lo = -1;
        }
      }
    }
    if (lo >= 0) {
      out[n++] = lo;
      out[n++] = 65_535;
    }
    return new PortSet(out.slice(0, n));
  }

  has(port: number): boolean {
    let a = 0;
    let z = (this.b.length >> 1) - 1;
    while (a <= z) {
      const m = (a + z) >> 1;
      if (port < this.b[2 * m]!) z = m - 1;
      else if (port > this.b[2 * m + 1]!) a = m + 1;
      else return true;
    }
    return false;
  }

  /** The ports of this set that `other` does not have. */
  minus(other: PortSet): PortSet {
    if (other.size === 0 || this.size === 0) return this;
    if (other.size === 65_535) return PortSet.EMPTY;
    const o = other.b;
    const out: number[] = [];
    let j = 0;
    for (let i = 0; i < this.b.length; i += 2) {
      let lo = this.b[i]!;
      const hi = this.b[i + 1]!;
      while (j < o.length && o[j + 1]! < lo) j += 2;
      for (let k = j; k < o.length && o[k]! <= hi; k += 2) {
        if (o[k]! > lo) out.push(lo, o[k]! - 1);
        lo = Math.max(lo, o[k + 1]! + 1);
      }
      if (lo <= hi) out.push(lo, hi);
    }
    return new PortSet(Uint16Array.from(out));
  }

  equals(other: PortSet): boolean {
    if (this.b.length !== other.b.length) return false;
    for (let i = 0; i < this.b.length; i++) if (this.b[i] !== other.b[i]) return false;
    return true;
  }

  /** "9051-9053,9100" (for logs, /debug and hellos) */
  toString(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.b.length; i += 2) parts.push(this.b[i] === this.b[i + 1] ? String(this.b[i]) : `${this.b[i]}-${this.b[i + 1]}`);
    return parts.join(',');
  }

  /** The shorter wire form: the range list, or the bitmap when the set is scattered. */
  encode(): string {
    const ranges = this.toString();
    if (ranges.length <= BITMAP.length + Math.ceil(BITMAP_BYTES / 3) * 4) return ranges;
    const bits = Buffer.alloc(BITMAP_BYTES);
    for (let i = 0; i < this.b.length; i += 2) for (let p = this.b[i]!; p <= this.b[i + 1]!; p++) bits[p >> 3]! |= 1 << (p & 7);
    return BITMAP + bits.toString('base64');
  }
}

function invalid(why: string): DnatError {
  return new DnatError(DnatErrorCode.INVALID_PORT_SET, `invalid port set: ${why}`);
}
