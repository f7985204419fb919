// The agent's masking keys (RFC 6455 §5.3: a fresh, unpredictable key for every client frame), drawn
// from a pooled crypto random buffer as ws itself does, but never all-zero: ws sends a frame whose key
// is 0000 without copying it, and WebSocketDuplex (masksEveryMessage) relies on every message being
// copied before `send` returns. Pass as ws's `generateMask` client option.
import { randomFillSync } from 'node:crypto';

const POOL = 8 * 1024;
const pool = Buffer.allocUnsafeSlow(POOL);
let at = POOL;

/** Fills `mask` (4 bytes) with a random key that is not 0000. */
export function nonZeroMask(mask: Buffer): void {
  do {
    if (at + 4 > POOL) {
      randomFillSync(pool);
      at = 0;
    }
    mask[0] = pool[at]!;
    mask[1] = pool[at + 1]!;
    mask[2] = pool[at + 2]!;
    mask[3] = pool[at + 3]!;
    at += 4;
  } while ((mask[0]! | mask[1]! | mask[2]! | mask[3]!) === 0);
}
