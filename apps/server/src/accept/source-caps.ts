// Pending handshakes per source address (IP, without port). A cap of 0 counts nothing and admits all.
export class SourceCaps {
  private readonly counts = new Map<string, number>();

  constructor(private readonly cap: number) {}

  /** Takes one slot of `source`; false when it already holds `cap`. */
  take(source: string): boolean {
    if (this.cap <= 0) return true;
    const n = this.counts.get(source) ?? 0;
    if (n >= this.cap) return false;
    this.counts.set(source, n + 1);
    return true;
  }

  release(source: string): void {
    if (this.cap <= 0) return;
    const n = (this.counts.get(source) ?? 0) - 1;
    if (n <= 0) this.counts.delete(source);
    else this.counts.set(source, n);
  }

  /** sources holding at least one slot */
  get sources(): number {
    return this.counts.size;
  }
}
