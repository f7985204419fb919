// When a stream's frames do not shrink (random or already compressed bytes), stop paying for the
// attempt: after MISSES frames in a row that did not pay, the next SKIP_FIRST frames go raw; a miss
// right after a skip doubles the skip, up to SKIP_MAX; a frame that pays starts over. A random
// stream settles at one attempt per SKIP_MAX frames; a stream that turns compressible is noticed
// within SKIP_MAX frames.
export const MISSES = 4;
export const SKIP_FIRST = 64;
export const SKIP_MAX = 1024;

export class CompressBackoff {
  private misses = 0;
  private skip = 0;
  private nextSkip = SKIP_FIRST;

  /** Whether to try compressing the next frame. */
  shouldTry(): boolean {
    if (this.skip === 0) return true;
    this.skip -= 1;
    return false;
  }

  /** The result of an attempt. */
  note(paid: boolean): void {
    if (paid) {
      this.misses = 0;
      this.nextSkip = SKIP_FIRST;
      return;
    }
    if (++this.misses < MISSES) return;
    this.skip = this.nextSkip;
    this.nextSkip = Math.min(2 * this.nextSkip, SKIP_MAX);
    this.misses = MISSES - 1; // the next miss skips again, twice as long
  }
}
