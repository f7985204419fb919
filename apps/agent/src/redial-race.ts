// The redial race of a paused session (framing spec §10.4): a new dial every 250–500 ms (jittered)
// without waiting for the ones in flight, so a dial whose SYN went into a blackhole (the kernel
// retransmits it after 1, 2, 4, 8 s…) or whose handshake hangs never delays the resume: the first dial
// after the link's return wins. At most MAX_LIVE attempts at once; when another is due, the oldest
// without a TCP connection yet is aborted (one whose TCP is up but TLS is pending is kept: it is the
// likeliest to finish). The first to finish its TLS handshake wins; the others are destroyed at once.
import type { Duplex } from 'node:stream';
import type { DialFailure } from './transport-choice.js';

/** Range of the delay between two dials (uniform). */
export const REDIAL_MIN_MS = 250;
export const REDIAL_MAX_MS = 500;
/** Live attempts at most. */
export const REDIAL_MAX_LIVE = 4;

/** One dial in flight. */
export interface RedialAttempt {
  /** TCP (or the proxy's tunnel) is up: only the TLS handshake is pending */
  readonly tcpUp: boolean;
  /** how the dial failed, once it did (the dialer records it here instead of logging it) */
  readonly failure?: DialFailure;
  /** the address dialed, as the failure reasons name it */
  readonly target?: string;
  /** the TLS socket once its handshake is done; undefined when the dial failed or was aborted */
  readonly done: Promise<Duplex | undefined>;
  /** destroys the attempt's socket and timers at once; `done` then resolves undefined */
  abort(): void;
}

export interface RedialRaceOptions {
  /** starts one dial */
  start: () => RedialAttempt;
  /** [0, 1) for the cadence jitter */
  random?: () => number;
  /** ends the race (no winner) when aborted: the dialer closes */
  signal?: AbortSignal;
  /** a dial started (the `resumes{result=attempted}` count) */
  onStart?: () => void;
  /** a dial failed on its own (not aborted by the race): how, when the dialer said */
  onFailure?: (failure: DialFailure | undefined, attempt: RedialAttempt) => void;
  minMs?: number;
  maxMs?: number;
  maxLive?: number;
}

/** The dialer's side of one attempt: aborted through `signal`, told when its TCP is up, and where its failure goes. */
export interface Redial {
  signal: AbortSignal;
  onTcp: () => void;
  failure?: DialFailure;
}

interface Live {
  attempt: RedialAttempt;
  aborted: boolean;
}

export class RedialRace {
  private readonly live: Live[] = [];
  private timer: NodeJS.Timeout | undefined;
  private settle: ((socket: Duplex | undefined) => void) | undefined;
  private over = false;
  /** dials started */
  started = 0;
  /** dials the race aborted (the cap, or a winner) */
  aborted = 0;

  constructor(private readonly opts: RedialRaceOptions) {}

  /** Attempts in flight. */
  get liveCount(): number {
    return this.live.length;
  }

  /** Whether a dial timer is armed. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Races dials until one finishes its TLS handshake (its socket) or stop() / the signal (undefined). Once. */
  run(): Promise<Duplex | undefined> {
    if (this.settle || this.over) throw new Error('a redial race runs once');
    return new Promise((resolve) => {
      this.settle = resolve;
      if (this.opts.signal?.aborted) return this.finish(undefined);
      this.opts.signal?.addEventListener('abort', this.onSignal, { once: true });
      this.tick();
    });
  }

  /** Ends the race without a winner: every attempt aborted, no timer left. */
  stop(): void {
    this.finish(undefined);
  }

  private readonly onSignal = (): void => this.finish(undefined);

  private tick(): void {
    this.timer = undefined;
    if (this.over) return;
    if (this.live.length >= (this.opts.maxLive ?? REDIAL_MAX_LIVE)) {
      const oldest = this.live.find((l) => !l.attempt.tcpUp);
      // all of them have TCP up and wait for TLS: let them finish, dial again at the next tick
      if (oldest) this.abort(oldest);
    }
    if (this.live.length < (this.opts.maxLive ?? REDIAL_MAX_LIVE)) this.dial();
    if (this.over) return;
    const min = this.opts.minMs ?? REDIAL_MIN_MS;
    const max = this.opts.maxMs ?? REDIAL_MAX_MS;
    this.timer = setTimeout(() => this.tick(), min + Math.floor((this.opts.random ?? Math.random)() * (max - min)));
  }

  private dial(): void {
    const entry: Live = { attempt: this.opts.start(), aborted: false };
    this.started += 1;
    this.live.push(entry);
    this.opts.onStart?.();
    void entry.attempt.done.then(
      (socket) => {
        this.remove(entry);
        if (socket === undefined) {
          if (!entry.aborted && !this.over) this.opts.onFailure?.(entry.attempt.failure, entry.attempt);
          return;
        }
        // a handshake that finished after the race was decided (or after its own abort): not ours
        if (this.over || entry.aborted) return void socket.destroy();
        this.finish(socket);
      },
      () => this.remove(entry),
    );
  }

  private abort(entry: Live): void {
    entry.aborted = true;
    this.aborted += 1;
    this.remove(entry);
    entry.attempt.abort();
  }

  private remove(entry: Live): void {
    const i = this.live.indexOf(entry);
    if (i >= 0) this.live.splice(i, 1);
  }

  private finish(socket: Duplex | undefined): void {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.opts.signal?.removeEventListener('abort', this.onSignal);
    for (const l of [...this.live]) this.abort(l);
    const settle = this.settle;
    this.settle = undefined;
    settle?.(socket);
  }
}
