// Public API of @edge-tunnel/capture: iptables DNAT capture of edge-node traffic.
export { CaptureError, CaptureErrorCode } from './errors.js';
export {
  DEFAULT_CHAIN_PREFIX, HOOK_CHAINS, HookChain, MAX_CHAIN_NAME, MAX_CHAIN_PREFIX, chainNames,
} from './chains.js';
export type { ChainNames, Target } from './chains.js';
export { SkipReason } from './ips.js';
export type { SkippedIp } from './ips.js';
export { COMMENT_TAG, planRules, renderRules, renderTeardown } from './rules.js';
export type { Flow, RenderInput, RulePlan } from './rules.js';
export { EMPTY_NAT_STATE, parseNatState, tokenize } from './state.js';
export type { JumpRule, NatState } from './state.js';
export { changedFlows, flushConntrack, parseConntrackDestinations } from './conntrack.js';
export type { FlowKey, FlushResult } from './conntrack.js';
export { lookupOriginalDst, originalDstArgs, parseOriginalDst } from './original-dst.js';
export type { AcceptedTuple, OriginalDst, OriginalDstResult } from './original-dst.js';
export { COMMAND_NOT_FOUND, COMMAND_TIMED_OUT, createRunner } from './iptables.js';
export type { IptablesRunner, RunResult, RunnerOptions } from './iptables.js';
export type { CaptureLogger } from './logger.js';
export { IptablesManager } from './manager.js';
export { DEFAULT_COMMANDS } from './options.js';
export type { ApplyOutcome, CaptureCommands, CaptureStatus, IptablesManagerOptions, StatusError } from './options.js';
