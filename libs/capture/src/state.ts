// Reads the current nat table from `iptables-save -t nat` output (pure): which of our chains exist,
// and which rules outside our chains jump into them.
import { chainNames } from './chains.js';
import type { ChainNames, HookChain } from './chains.js';

/** A rule in a chain we do not own whose target is one of our chains. */
export interface JumpRule {
  /** the chain holding the rule (`OUTPUT`, `PREROUTING`, or a foreign chain) */
  readonly from: string;
  /** our chain it jumps (or goes) to */
  readonly to: string;
  /** the rule as saved, without `-A <from> `: fed back as `-D <from> <spec>` to delete exactly it */
  readonly spec: string;
}

/** The part of the nat table that concerns one chain prefix. */
export interface NatState {
  /** our chains present, in saved order */
  readonly chains: readonly string[];
  /** rules outside our chains that target our chains, in saved order */
  readonly jumps: readonly JumpRule[];
}

/** Nothing of ours is installed. */
export const EMPTY_NAT_STATE: NatState = Object.freeze({ chains: [], jumps: [] });

/** Our chains and the jumps into them, from `iptables-save -t nat` (other tables are ignored). */
export function parseNatState(save: string, prefix?: string): NatState {
  const names = chainNames(prefix);
  const chains: string[] = [];
  const jumps: JumpRule[] = [];
  let table = '';
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    if (table !== 'nat') continue;
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s+/)[0] ?? '';
      if (names.owns(chain)) chains.push(chain);
    } else if (line.startsWith('-A ')) {
      const jump = parseJump(line, names);
      if (jump) jumps.push(jump);
    }
  }
  return { chains, jumps };
}

/** The jump rules from `hook` into our chain for that hook. */
export function hookJumps(state: NatState, hook: HookChain, names: ChainNames): JumpRule[] {
  return state.jumps.filter((j) => j.from === hook && j.to === names.hook(hook));
}

function parseJump(line: string, names: ChainNames): JumpRule | undefined {
  const tokens = tokenize(line);
  const from = tokens[1];
  if (from === undefined || names.owns(from)) return undefined;
  let to: string | undefined;
  for (let i = 2; i < tokens.length - 1; i++) {
    const t = tokens[i];
    if (t === '-j' || t === '--jump' || t === '-g' || t === '--goto') to = tokens[i + 1];
  }
  if (to === undefined || !names.owns(to)) return undefined;
  const spec = line.slice(line.indexOf(from) + from.length).trim();
  return { from, to, spec };
}

/** Splits a saved rule into words; double-quoted words (with `\"` escapes) stay whole, unquoted. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) word += line[++i]!;
      else if (c === '"') quoted = false;
      else word += c;
    } else if (c === '"') {
      quoted = true;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) out.push(word);
  return out;
}
