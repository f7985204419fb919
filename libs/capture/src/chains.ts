// Chain names and input validation shared by the renderer, the state parser and the manager (pure).
import { isIPv4 } from 'node:net';
import { isPortNumber } from '@edge-tunnel/dnat';
import { CaptureError, CaptureErrorCode } from './errors.js';

/** Prefix of every chain we own unless `chainPrefix` says otherwise. */
export const DEFAULT_CHAIN_PREFIX = 'EDGE-TUNNEL';

/** iptables limits chain names to 28 characters (XT_EXTENSION_MAXNAMELEN - 1). */
export const MAX_CHAIN_NAME = 28;

/** The longest suffix we append: `-PREROUTING` and `-PORT-65535` (11 characters each). */
const LONGEST_SUFFIX = '-PREROUTING'.length;

/** Longest accepted `chainPrefix`. */
export const MAX_CHAIN_PREFIX = MAX_CHAIN_NAME - LONGEST_SUFFIX;

/** Starts and ends with a letter or digit; `-` and `_` inside. */
const PREFIX_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$/;

/** Built-in nat chains we jump from, with the traffic each one sees. */
export const HookChain = {
  /** locally originated traffic (the server host's own processes, e.g. kube-apiserver) */
  OUTPUT: 'OUTPUT',
  /** traffic routed through the host (arriving on an interface) */
  PREROUTING: 'PREROUTING',
} as const;
export type HookChain = (typeof HookChain)[keyof typeof HookChain];

/** The hook chains in the order we render them. */
export const HOOK_CHAINS: readonly HookChain[] = [HookChain.OUTPUT, HookChain.PREROUTING];

/** Where a channel's listener is: the DNAT destination. */
export interface Target {
  readonly ip: string;
  readonly port: number;
}

/** The names of our chains for one prefix. */
export interface ChainNames {
  readonly prefix: string;
  /** `<prefix>-OUTPUT` / `<prefix>-PREROUTING`: the chain each hook chain jumps to */
  hook(hook: HookChain): string;
  /** `<prefix>-PORT-<port>`: the per-IP DNAT rules of one port */
  port(port: number): string;
  /** `<prefix>-OTHER`: the per-IP catch-all of every port that is not configured */
  readonly other: string;
  /** true for a chain name this prefix owns (exactly; another prefix never matches) */
  owns(chain: string): boolean;
  /** the port of a `<prefix>-PORT-<port>` chain, else undefined */
  portOf(chain: string): number | undefined;
}

/** Chain names for `prefix` (validated: throws `ERR_CAPTURE_INVALID_PREFIX`). */
export function chainNames(prefix: string = DEFAULT_CHAIN_PREFIX): ChainNames {
  validatePrefix(prefix);
  const other = `${prefix}-OTHER`;
  const fixed = new Set([...HOOK_CHAINS.map((h) => `${prefix}-${h}`), other]);
  const portStem = `${prefix}-PORT-`;
  const portOf = (chain: string): number | undefined => {
    if (!chain.startsWith(portStem)) return undefined;
    const digits = chain.slice(portStem.length);
    if (!/^[1-9][0-9]{0,4}$/.test(digits)) return undefined;
    const port = Number(digits);
    return isPortNumber(port) ? port : undefined;
  };
  return {
    prefix,
    hook: (hook) => `${prefix}-${hook}`,
    port: (port) => `${portStem}${port}`,
    other,
    owns: (chain) => fixed.has(chain) || portOf(chain) !== undefined,
    portOf,
  };
}

function validatePrefix(prefix: string): void {
  if (typeof prefix === 'string' && prefix.length <= MAX_CHAIN_PREFIX && PREFIX_RE.test(prefix)) return;
  throw new CaptureError(
    CaptureErrorCode.INVALID_PREFIX,
    `invalid chain prefix ${JSON.stringify(prefix)}: use 1..${MAX_CHAIN_PREFIX} letters, digits, '-' or '_' ` +
      `(starting and ending with a letter or digit) so that '<prefix>-PREROUTING' fits iptables' ` +
      `${MAX_CHAIN_NAME}-character limit`,
  );
}

/** Throws `ERR_CAPTURE_INVALID_TARGET` unless `target` is an IPv4 address and a port. */
export function validateTarget(name: string, target: Target): void {
  if (target !== null && typeof target === 'object' && isIPv4(target.ip) && isPortNumber(target.port)) return;
  throw new CaptureError(
    CaptureErrorCode.INVALID_TARGET,
    `invalid ${name} ${JSON.stringify(target)}: expected { ip: <IPv4 address of this host>, port: 1..65535 }`,
  );
}
