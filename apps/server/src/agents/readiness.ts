// Readiness of one replica: "this replica can route". Ready when the listeners are up (and, in
// cluster mode, the informers synced) and every expected agent has a session here, or the grace
// period since start has passed. Unready at once when draining starts.
import type { AgentRegistry } from './registry.js';

export interface ReadinessOptions {
  registry: AgentRegistry;
  /** node names that should have a session; undefined: no agent condition */
  expected: () => readonly string[] | undefined;
  graceMs: number;
  now?: () => number;
}

export class Readiness {
  private up = false;
  private draining = false;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(private readonly opts: ReadinessOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  listening(): void {
    this.up = true;
  }

  drain(): void {
    this.draining = true;
  }

  /** undefined when ready, else why not (the 503 body of /readyz) */
  notReadyReason(synced = true): string | undefined {
    if (this.draining) return 'draining';
    if (!this.up) return 'listeners not up';
    if (!synced) return 'informers not synced';
    const expected = this.opts.expected();
    if (expected === undefined) return undefined;
    const missing = expected.filter((n) => this.opts.registry.get(n) === undefined);
    if (missing.length === 0) return undefined;
    const left = this.opts.graceMs - (this.now() - this.startedAt);
    if (left <= 0) return undefined;
    return `waiting for agents ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} (grace ends in ${left} ms)`;
  }
}
