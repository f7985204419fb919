// Options, outcomes and status of the IptablesManager.
import type { Target } from './chains.js';
import type { CaptureError, CaptureErrorCode } from './errors.js';
import type { IptablesRunner } from './iptables.js';
import type { SkippedIp } from './ips.js';
import type { CaptureLogger } from './logger.js';

/** The commands the manager runs (override e.g. with `iptables-legacy-save`/`-restore`). */
export interface CaptureCommands {
  save: string;
  restore: string;
  conntrack: string;
}

export const DEFAULT_COMMANDS: Readonly<CaptureCommands> = Object.freeze({
  save: 'iptables-save',
  restore: 'iptables-restore',
  conntrack: 'conntrack',
});

export interface IptablesManagerOptions {
  logger: CaptureLogger;
  /** the HTTPS channel listener (:10263), an IPv4 address of this host */
  httpsTarget: Target;
  /** the HTTP channel listener (:10264), an IPv4 address of this host */
  httpTarget: Target;
  /** default: `createRunner()` (child processes in this network namespace) */
  runner?: IptablesRunner;
  /** default `EDGE-TUNNEL` */
  chainPrefix?: string;
  /** re-apply period once `start()`ed; default 60 000 ms; 0 = no timer */
  resyncIntervalMs?: number;
  /** flush conntrack entries of flows whose DNAT changed; default true */
  conntrack?: boolean;
  /** default true: every other TCP port of an edge IP lands on `httpTarget` (fast 403 PORT_NOT_CONFIGURED) */
  captureOtherPorts?: boolean;
  commands?: Partial<CaptureCommands>;
}

/** What one `update()` did; apply failures resolve here (and in `status()`), they do not reject. */
export interface ApplyOutcome {
  /** the rules were written to the kernel */
  readonly applied: boolean;
  /** the rendering differed from the last applied one */
  readonly changed: boolean;
  readonly error?: CaptureError;
}

export interface StatusError {
  readonly code: CaptureErrorCode;
  readonly message: string;
  readonly stderr: string;
  readonly at: Date;
}

export interface CaptureStatus {
  /** the resync timer runs */
  readonly running: boolean;
  /** the last attempt succeeded (true before the first) */
  readonly ok: boolean;
  readonly lastAppliedAt?: Date;
  readonly lastAttemptAt?: Date;
  /** rules in our chains as last applied (0 when none are installed) */
  readonly ruleCount: number;
  readonly nodeIps: readonly string[];
  readonly ports: readonly number[];
  /** the last applied rules send every other port of the captured IPs to the HTTP listener */
  readonly otherPorts: boolean;
  readonly skipped: readonly SkippedIp[];
  readonly applies: number;
  readonly failures: number;
  readonly lastError?: StatusError;
}
