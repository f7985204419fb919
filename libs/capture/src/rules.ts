// Renders the iptables-restore input for table nat that installs, repairs or removes our chains (pure).
import { BUILT_IN_PORTS, Channel, channelOf } from '@edge-tunnel/dnat';
import type { PortConfig } from '@edge-tunnel/dnat';
import { HOOK_CHAINS, chainNames, validateTarget } from './chains.js';
import type { ChainNames, Target } from './chains.js';
import { skipWarnings, sortNodeIps } from './ips.js';
import type { SkippedIp } from './ips.js';
import { EMPTY_NAT_STATE, hookJumps } from './state.js';
import type { NatState } from './state.js';

/** Every comment we write starts with this. */
export const COMMENT_TAG = 'edge-tunnel:';

export interface RenderInput {
  /** IPs of edge nodes only (never cloud nodes); IPv6 and non-unicast IPs are skipped */
  readonly nodeIps: readonly string[];
  readonly config: PortConfig;
  /** the HTTPS channel listener (:10263): 10250 and `https-proxy-ports` land here */
  readonly httpsTarget: Target;
  /** the HTTP channel listener (:10264): 10255, `dnat-ports-pair`, `http-proxy-ports` land here */
  readonly httpTarget: Target;
  /** default `EDGE-TUNNEL` */
  readonly chainPrefix?: string;
  /** the current nat table (`parseNatState`); default: nothing of ours installed */
  readonly existing?: NatState;
  /**
   * default true: every other TCP port of an edge IP lands on `httpTarget` too, so a caller of a port
   * nobody configured gets the server's fast `403 PORT_NOT_CONFIGURED` instead of a hang (the cloud
   * cannot reach edge IPs directly anyway); false: such ports pass untouched
   */
  readonly captureOtherPorts?: boolean;
}

/** One captured destination and where it lands. */
export interface Flow {
  readonly ip: string;
  readonly port: number;
  /** `ip:port` of the listener */
  readonly target: string;
}

export interface RulePlan {
  /** the complete `iptables-restore --noflush` input */
  readonly restore: string;
  /** the part that does not depend on `existing`: equal inputs give equal `desired` */
  readonly desired: string;
  /** every DNAT rule as (ip, port) → target, sorted by port then IP */
  readonly flows: readonly Flow[];
  /** `-A` rules in our chains (dispatch + DNAT), jumps from the hook chains not counted */
  readonly ruleCount: number;
  /** the captured ports, ascending (built-ins included) */
  readonly ports: readonly number[];
  /** every other TCP port of the captured IPs lands on the HTTP listener (`<prefix>-OTHER`) */
  readonly otherPorts: boolean;
  /** the captured node IPs, canonical and sorted */
  readonly nodeIps: readonly string[];
  readonly skipped: readonly SkippedIp[];
  /** sentences for the log: skipped IPs, PREROUTING to a loopback target */
  readonly warnings: readonly string[];
}

/** The `iptables-restore --noflush` input for `input` (see `planRules`). */
export function renderRules(input: RenderInput): string {
  return planRules(input).restore;
}

/** Renders the rules and says what they capture. Throws `ERR_CAPTURE_INVALID_*` on bad input. */
export function planRules(input: RenderInput): RulePlan {
  const names = chainNames(input.chainPrefix);
  validateTarget('httpsTarget', input.httpsTarget);
  validateTarget('httpTarget', input.httpTarget);
  const { capture, skipped } = sortNodeIps(input.nodeIps, [input.httpsTarget.ip, input.httpTarget.ip]);
  const ports = capturedPorts(input.config);
  const flows: Flow[] = [];
  const decl = HOOK_CHAINS.map((h) => declare(names.hook(h)));
  const dispatch: string[] = [];
  const dnat: string[] = [];
  for (const port of ports) {
    const chain = names.port(port);
    const target = targetOf(input, port);
    decl.push(declare(chain));
    dispatch.push(`-p tcp --dport ${port} ${comment(String(port))} -j ${chain}`);
    for (const ip of capture) {
      flows.push({ ip, port, target });
      dnat.push(`-A ${chain} -d ${ip}/32 -p tcp --dport ${port} ${comment(`${ip} ${port}`)} ` + `-j DNAT --to-destination ${target}`);
    }
  }
  const otherPorts = input.captureOtherPorts ?? true;
  if (otherPorts) {
    // last in each hook chain: reached only by ports no dispatch rule matched, or by a configured port
    // of an IP that is not an edge IP (its port chain returns), which the per-IP rules let pass
    const http = `${input.httpTarget.ip}:${input.httpTarget.port}`;
    decl.push(declare(names.other));
    dispatch.push(`-p tcp ${comment('other ports')} -j ${names.other}`);
    for (const ip of capture) {
      dnat.push(`-A ${names.other} -d ${ip}/32 -p tcp ${comment(`${ip} other ports`)} -j DNAT --to-destination ${http}`);
    }
  }
  const rules = HOOK_CHAINS.flatMap((h) => dispatch.map((rule) => `-A ${names.hook(h)} ${rule}`)).concat(dnat);
  const desired = [...decl, ...rules].join('\n');
  const wanted = new Set([...ports.map(names.port), ...(otherPorts ? [names.other] : [])]);
  const fixups = repairs(input.existing ?? EMPTY_NAT_STATE, names, wanted);
  const restore = ['*nat', ...fixups.before, ...decl, ...fixups.stale, ...rules, ...fixups.after, 'COMMIT', ''];
  return {
    restore: restore.join('\n'),
    desired,
    flows,
    ruleCount: rules.length,
    ports,
    otherPorts,
    nodeIps: capture,
    skipped,
    warnings: [...skipWarnings(skipped), ...loopbackWarnings(input)],
  };
}

/** The restore input that removes every chain of `prefix` and every rule jumping into them, or
 * undefined when nothing of ours is installed. */
export function renderTeardown(existing: NatState, chainPrefix?: string): string | undefined {
  chainNames(chainPrefix);
  if (existing.chains.length === 0 && existing.jumps.length === 0) return undefined;
  return [
    '*nat',
    ...existing.jumps.map((j) => `-D ${j.from} ${j.spec}`),
    ...existing.chains.map(declare),
    ...existing.chains.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** 10250, 10255 and every configured port, ascending. */
function capturedPorts(config: PortConfig): number[] {
  const ports = new Set<number>([...BUILT_IN_PORTS.keys(), ...config.httpPorts, ...config.httpsPorts]);
  return [...ports].sort((a, b) => a - b);
}

function targetOf(input: RenderInput, port: number): string {
  const t = channelOf(input.config, port) === Channel.HTTPS ? input.httpsTarget : input.httpTarget;
  return `${t.ip}:${t.port}`;
}

/** Lines that depend on the installed state: stale chains, missing or duplicated hook jumps. */
function repairs(existing: NatState, names: ChainNames, wanted: ReadonlySet<string>) {
  const hooks = new Set(HOOK_CHAINS.map((h) => names.hook(h)));
  const stale = existing.chains.filter((c) => !hooks.has(c) && !wanted.has(c));
  const staleSet = new Set(stale);
  // Foreign rules pointing at a chain we delete would make `-X` fail: drop them first.
  const before = existing.jumps.filter((j) => staleSet.has(j.to)).map((j) => `-D ${j.from} ${j.spec}`);
  const after: string[] = [];
  for (const hook of HOOK_CHAINS) {
    const jumps = hookJumps(existing, hook, names);
    if (jumps.length === 0) {
      after.push(`-I ${hook} 1 ${comment(`capture ${hook}`)} -j ${names.hook(hook)}`);
    }
    for (const extra of jumps.slice(1)) after.push(`-D ${hook} ${extra.spec}`);
  }
  return { before, stale: [...stale.map(declare), ...stale.map((c) => `-X ${c}`)], after };
}

function loopbackWarnings(input: RenderInput): string[] {
  const loopback = [input.httpsTarget, input.httpTarget].filter((t) => t.ip.startsWith('127.'));
  if (loopback.length === 0) return [];
  return [
    'a listener target is on 127.0.0.0/8: PREROUTING (routed) traffic only lands there with ' + 'net.ipv4.conf.<iface>.route_localnet=1; prefer a host address',
  ];
}

/** `:CHAIN - [0:0]` declares the chain, or flushes it when it exists (with --noflush). */
function declare(chain: string): string {
  return `:${chain} - [0:0]`;
}

function comment(text: string): string {
  return `-m comment --comment "${COMMENT_TAG} ${text}"`;
}
