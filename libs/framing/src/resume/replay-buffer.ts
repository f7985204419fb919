// The bytes we sent that the peer has not confirmed yet: chunks from `start` (the peer's
// acknowledged offset) to `end` (everything the session wrote). Chunks are kept as given (the
// session never rewrites a buffer it wrote), never copied.

export class ReplayBuffer {
  private chunks: Buffer[] = [];
  /** offset of the first byte held (= bytes the peer confirmed) */
  start = 0;
  /** offset after the last byte held (= bytes the session wrote) */
  end = 0;

  get size(): number {
    return this.end - this.start;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.end += chunk.length;
  }

  /** The peer has every byte before `offset`: forget them. `offset` must be in [start, end]. */
  ackTo(offset: number): void {
    if (offset < this.start || offset > this.end) throw new RangeError(`ack ${offset} outside [${this.start}, ${this.end}]`);
    let drop = offset - this.start;
    while (drop > 0) {
      const first = this.chunks[0]!;
      if (first.length <= drop) {
        this.chunks.shift();
        drop -= first.length;
      } else {
        this.chunks[0] = first.subarray(drop);
        drop = 0;
      }
    }
    this.start = offset;
  }

  /** Every held byte from `offset` (in [start, end]) on, as slices of the chunks. */
  from(offset: number): Buffer[] {
    if (offset < this.start || offset > this.end) throw new RangeError(`replay from ${offset} outside [${this.start}, ${this.end}]`);
    const out: Buffer[] = [];
    let skip = offset - this.start;
    for (const c of this.chunks) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      out.push(skip > 0 ? c.subarray(skip) : c);
      skip = 0;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.start = this.end;
  }
}
