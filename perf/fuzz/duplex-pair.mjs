// Two in-memory Duplex ends joined back to back, with backpressure: a write waits until the other
// end's reader takes the chunk. The fuzz job's sessions talk over it.
import { Duplex } from 'node:stream';

class End extends Duplex {
  constructor() {
    super({ allowHalfOpen: true });
    /** @type {(() => void) | null} */ this.held = null;
    /** @type {End} */ this.other = undefined;
  }
  /** @param {Buffer} chunk @param {BufferEncoding} _e @param {(err?: Error | null) => void} cb */
  _write(chunk, _e, cb) {
    if (this.other.destroyed) return cb(new Error('peer destroyed'));
    if (this.other.push(chunk)) cb();
    else this.other.held = () => cb();
  }
  /** @param {(err?: Error | null) => void} cb */
  _final(cb) {
    this.other.push(null);
    cb();
  }
  _read() {
    const h = this.held;
    this.held = null;
    h?.();
  }
  /** @param {Error | null} err @param {(err?: Error | null) => void} cb */
  _destroy(err, cb) {
    if (!this.other.destroyed) this.other.destroy();
    cb(err);
  }
}
export function pair() {
  const a = new End();
  const b = new End();
  a.other = b;
  b.other = a;
  return [a, b];
}
