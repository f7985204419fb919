// The session limits an operator may set, as command-line flags: one table for the server and the
// agent, with the bounds resolveOptions checks and the defaults it applies.
import { DEFAULTS as SESSION_DEFAULTS, MAX_CONTROL_PER_SECOND, MAX_WINDOW, MIN_WINDOW, type SessionOptions } from './options.js';

/** The SessionOptions an operator sets with these flags. */
export type FramingLimits = Required<Pick<SessionOptions, 'receiveBudget' | 'initialWindow' | 'maxWindow' | 'maxControlPerSecond'>>;

export interface FramingFlag {
  flag: string;
  key: keyof FramingLimits;
  min: number;
  max: number;
  default: number;
  help: string;
}

export const FRAMING_FLAGS: readonly FramingFlag[] = [
  {
    flag: 'receive-budget',
    key: 'receiveBudget',
    min: MIN_WINDOW,
    max: 2 ** 40,
    default: SESSION_DEFAULTS.receiveBudget,
    help: 'bytes one session buffers for all its streams together (what a peer can make us hold); ≥ --initial-window',
  },
  {
    flag: 'initial-window',
    key: 'initialWindow',
    min: MIN_WINDOW,
    max: MAX_WINDOW,
    default: SESSION_DEFAULTS.initialWindow,
    help: 'per-stream receive credit at open, announced to the peer in SETTINGS',
  },
  {
    flag: 'max-window',
    key: 'maxWindow',
    min: MIN_WINDOW,
    max: MAX_WINDOW,
    default: SESSION_DEFAULTS.maxWindow,
    help: 'ceiling of a stream receive window grown by auto-tuning; ≥ --initial-window',
  },
  {
    flag: 'max-control-per-second',
    key: 'maxControlPerSecond',
    min: 1,
    max: MAX_CONTROL_PER_SECOND,
    default: SESSION_DEFAULTS.maxControlPerSecond,
    help: 'PING, SETTINGS, RESET and refused OPEN frames a peer may send per second before GOAWAY FLOOD',
  },
];

/** The rules between these flags (resolveOptions would throw later, naming options, not flags). */
export function framingLimitsProblem(l: FramingLimits): { flag: string; message: string } | undefined {
  for (const key of ['maxWindow', 'receiveBudget'] as const) {
    if (l[key] < l.initialWindow) {
      const flag = `--${FRAMING_FLAGS.find((f) => f.key === key)!.flag}`;
      return { flag, message: `${flag} (${l[key]}) must be at least --initial-window (${l.initialWindow})` };
    }
  }
  return undefined;
}
