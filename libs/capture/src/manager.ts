// Keeps the nat table in line with the edge node IPs and the port config: renders, applies atomically
// with `iptables-restore --noflush`, re-applies periodically to repair drift, removes everything on stop.
import type { PortConfig } from '@edge-tunnel/dnat';
import { DEFAULT_CHAIN_PREFIX, chainNames, validateTarget } from './chains.js';
import { changedFlows, flushConntrack } from './conntrack.js';
import type { FlowKey } from './conntrack.js';
import { CaptureError, CaptureErrorCode } from './errors.js';
import { COMMAND_NOT_FOUND, createRunner } from './iptables.js';
import type { IptablesRunner, RunResult } from './iptables.js';
import type { CaptureLogger } from './logger.js';
import { DEFAULT_COMMANDS } from './options.js';
import type { ApplyOutcome, CaptureCommands, CaptureStatus, IptablesManagerOptions, StatusError } from './options.js';
import { planRules, renderTeardown } from './rules.js';
import type { RulePlan } from './rules.js';
import { parseNatState } from './state.js';
import type { NatState } from './state.js';

interface Desired {
  nodeIps: readonly string[];
  config: PortConfig;
}

export class IptablesManager {
  readonly #log: CaptureLogger;
  readonly #runner: IptablesRunner;
  readonly #cmd: CaptureCommands;
  readonly #opts: Required<Pick<IptablesManagerOptions, 'httpsTarget' | 'httpTarget' | 'chainPrefix' | 'resyncIntervalMs' | 'conntrack' | 'captureOtherPorts'>>;
  #desired: Desired | undefined;
  #applied: RulePlan | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #lastAppliedAt: Date | undefined;
  #lastAttemptAt: Date | undefined;
  #lastError: StatusError | undefined;
  #ok = true;
  #applies = 0;
  #failures = 0;

  constructor(options: IptablesManagerOptions) {
    chainNames(options.chainPrefix);
    validateTarget('httpsTarget', options.httpsTarget);
    validateTarget('httpTarget', options.httpTarget);
    this.#log = options.logger;
    this.#runner = options.runner ?? createRunner();
    this.#cmd = { ...DEFAULT_COMMANDS, ...options.commands };
    this.#opts = {
      httpsTarget: options.httpsTarget,
      httpTarget: options.httpTarget,
      chainPrefix: options.chainPrefix ?? DEFAULT_CHAIN_PREFIX,
      resyncIntervalMs: options.resyncIntervalMs ?? 60_000,
      conntrack: options.conntrack ?? true,
      captureOtherPorts: options.captureOtherPorts ?? true,
    };
  }

  /** Captures `nodeIps` (edge nodes only) on the built-in and configured ports. Applies only when
   * the rendering changed. Rejects only on invalid input (`ERR_CAPTURE_INVALID_IP`). */
  async update(nodeIps: readonly string[], config: PortConfig): Promise<ApplyOutcome> {
    const desired = { nodeIps: [...nodeIps], config };
    this.#plan(desired); // validate now: bad input never reaches the queue
    this.#desired = desired;
    return this.#enqueue(() => this.#apply(false));
  }

  /** Re-applies the last update now (what the timer does). */
  async resync(): Promise<ApplyOutcome> {
    return this.#enqueue(() => this.#apply(true));
  }

  /** Starts the periodic resync (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.#timer !== undefined || this.#opts.resyncIntervalMs <= 0) return;
    this.#timer = setInterval(() => void this.resync().catch(() => undefined), this.#opts.resyncIntervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and removes our jumps and chains. Resolves false (logged, in status) on failure. */
  async stop(): Promise<boolean> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#desired = undefined;
    return this.#enqueue(() => this.#remove());
  }

  status(): CaptureStatus {
    const a = this.#applied;
    return {
      running: this.#timer !== undefined,
      ok: this.#ok,
      lastAppliedAt: this.#lastAppliedAt,
      lastAttemptAt: this.#lastAttemptAt,
      ruleCount: a?.ruleCount ?? 0,
      nodeIps: a?.nodeIps ?? [],
      ports: a?.ports ?? [],
      otherPorts: a?.otherPorts ?? false,
      skipped: a?.skipped ?? [],
      applies: this.#applies,
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  #plan(desired: Desired, existing?: NatState): RulePlan {
    const { httpsTarget, httpTarget, chainPrefix, captureOtherPorts } = this.#opts;
    return planRules({ ...desired, httpsTarget, httpTarget, chainPrefix, captureOtherPorts, existing });
  }

  /** Runs tasks one at a time; a task never rejects the queue. */
  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(resync: boolean): Promise<ApplyOutcome> {
    const desired = this.#desired;
    if (desired === undefined) return { applied: false, changed: false };
    let changed = false;
    const started = Date.now();
    try {
      changed = this.#plan(desired).desired !== this.#applied?.desired;
      if (!changed && !resync) return { applied: false, changed };
      const existing = await this.#readState();
      const plan = this.#plan(desired, existing);
      const res = await this.#runner.run(this.#cmd.restore, ['--noflush'], plan.restore);
      if (res.code !== 0) throw commandError(CaptureErrorCode.APPLY_FAILED, this.#cmd.restore, res);
      const before = this.#applied?.flows ?? [];
      this.#succeeded(plan);
      const level = changed ? 'info' : 'debug';
      this.#log[level](
        { ruleCount: plan.ruleCount, nodes: plan.nodeIps.length, ports: plan.ports, resync, durationMs: Date.now() - started },
        'capture rules applied',
      );
      if (changed && plan.warnings.length > 0) this.#log.warn({ skipped: plan.skipped, reason: plan.warnings.join('; ') }, 'node ips not captured');
      await this.#flush(changedFlows(before, plan.flows));
      return { applied: true, changed };
    } catch (err) {
      return { applied: false, changed, error: this.#failed(err, 'capture rules not applied, last good rules stay') };
    }
  }

  async #remove(): Promise<boolean> {
    try {
      const existing = await this.#readState();
      const teardown = renderTeardown(existing, this.#opts.chainPrefix);
      if (teardown !== undefined) {
        const res = await this.#runner.run(this.#cmd.restore, ['--noflush'], teardown);
        if (res.code !== 0) throw commandError(CaptureErrorCode.REMOVE_FAILED, this.#cmd.restore, res);
      }
      const before = this.#applied?.flows ?? [];
      this.#succeeded(undefined);
      this.#log.info({ chains: existing.chains.length, jumps: existing.jumps.length }, 'capture rules removed');
      await this.#flush(changedFlows(before, []));
      return true;
    } catch (err) {
      this.#failed(err, 'capture rules not removed');
      return false;
    }
  }

  async #readState(): Promise<NatState> {
    const res = await this.#runner.run(this.#cmd.save, ['-t', 'nat']);
    if (res.code !== 0) throw commandError(CaptureErrorCode.SAVE_FAILED, this.#cmd.save, res);
    return parseNatState(res.stdout, this.#opts.chainPrefix);
  }

  async #flush(flows: FlowKey[]): Promise<void> {
    if (!this.#opts.conntrack || flows.length === 0) return;
    try {
      await flushConntrack(this.#runner, this.#cmd.conntrack, flows, this.#log);
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'conntrack flush failed');
    }
  }

  #succeeded(plan: RulePlan | undefined): void {
    this.#applied = plan;
    this.#lastAttemptAt = this.#lastAppliedAt = new Date();
    this.#ok = true;
    this.#applies++;
  }

  #failed(err: unknown, msg: string): CaptureError {
    const error = err instanceof CaptureError ? err : new CaptureError(CaptureErrorCode.APPLY_FAILED, `capture runner failed: ${String(err)}`, { cause: err });
    this.#lastAttemptAt = new Date();
    this.#lastError = { code: error.code, message: error.message, stderr: error.stderr, at: this.#lastAttemptAt };
    this.#ok = false;
    this.#failures++;
    this.#log.error({ code: error.code, err: error.stderr || error.message }, msg);
    return error;
  }
}

function commandError(code: CaptureErrorCode, cmd: string, res: RunResult): CaptureError {
  const stderr = res.stderr.trim();
  if (res.code === COMMAND_NOT_FOUND) {
    return new CaptureError(CaptureErrorCode.IPTABLES_MISSING, `${cmd} not found: install the Debian package iptables`, { stderr });
  }
  return new CaptureError(code, `${cmd} exited with code ${res.code}: ${stderr || '(no output)'}`, { stderr });
}
