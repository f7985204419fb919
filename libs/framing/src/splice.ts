// One direction of a byte relay: what `from` reads is written to `to`, `from` pauses while `to`
// wants 'drain', and `from`'s end ends `to` (half-close: each direction carries its own FIN).
// A lean stand-in for `from.pipe(to)`, which costs ~1.4 KiB of closures and `once` wrappers per
// direction: here one object and three listeners. Errors and 'close' stay with the caller.
import type { Readable, Writable } from 'node:stream';

export interface SpliceHooks {
  /** Each chunk, before it is written; `splice.bytes` does not count it yet. */
  onData?(chunk: Buffer, splice: Splice): void;
  /** `from` ended (`to` has been ended). */
  onEnd?(splice: Splice): void;
}

export class Splice {
  /** Bytes read from `from` so far. */
  bytes = 0;
  /** `from` is paused by us until `to` drains. */
  private waiting = false;
  private readonly data = this.onData.bind(this);
  private readonly end = this.onEnd.bind(this);
  private readonly drain = this.onDrain.bind(this);

  constructor(
    readonly from: Readable,
    readonly to: Writable,
    private readonly hooks?: SpliceHooks,
  ) {
    from.on('data', this.data);
    from.on('end', this.end);
    to.on('drain', this.drain);
    if (to.writableNeedDrain) this.wait();
    else from.resume();
  }

  /** Detaches from both streams and pauses `from` (as `unpipe()` does). */
  stop(): void {
    this.from.removeListener('data', this.data);
    this.from.removeListener('end', this.end);
    this.to.removeListener('drain', this.drain);
    this.from.pause();
  }

  private onData(chunk: Buffer): void {
    this.hooks?.onData?.(chunk, this);
    this.bytes += chunk.length;
    // a destroyed or ended destination drops the chunk: its owner tears the relay down on 'close'
    if (this.to.writable && !this.to.write(chunk) && !this.waiting) this.wait();
  }

  private onEnd(): void {
    if (this.to.writable) this.to.end();
    this.hooks?.onEnd?.(this);
  }

  private onDrain(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.from.resume();
  }

  private wait(): void {
    this.waiting = true;
    this.from.pause();
  }
}

/** `from` → `to` with backpressure and half-close; see `Splice`. */
export function splice(from: Readable, to: Writable, hooks?: SpliceHooks): Splice {
  return new Splice(from, to, hooks);
}
