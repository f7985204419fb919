// The declarative flag table: what one entry says about a flag (name, config key, type, default,
// help, environment variable), the value types, and the one error every bad flag gets.

/**
 * How the text of a flag becomes its value. `expects` completes the sentence
 * "--x (env X) must be …"; `parse` throws `reject(got)` on bad text.
 */
export type FlagType<T> = ScalarType<T> | ListType<T>;

export interface ScalarType<T> {
  /** `bool`: `--x` alone means true; `--x on|off|true|false` also takes the next argument */
  readonly kind: 'scalar' | 'bool';
  readonly expects: string;
  parse(text: string): T;
}

/** Repeatable: every `--x` adds items, and each value (flag or environment) is split at `separators`. */
export interface ListType<T> {
  readonly kind: 'list';
  readonly expects: string;
  readonly separators: RegExp;
  /** the items, trimmed, blanks dropped */
  parse(items: readonly string[]): T;
}

interface Common {
  /** the flag without dashes: `agent-addr` */
  name: string;
  /** one line of --help (the README's "meaning" column may say more) */
  help: string;
  /** the environment variable; default: the table's prefix + NAME (`EDGE_TUNNEL_AGENT_ADDR`) */
  env?: string;
  /** shown as the default in --help and the README when the value is computed elsewhere (`$HOSTNAME`) */
  defaultText?: string;
}

/** A config key that must always be set needs a default (command-line syntax) or `required: true`. */
type Presence<C, K extends keyof C> =
  object extends Pick<C, K> ? { default?: string; required?: false } : { default: string; required?: false } | { default?: undefined; required: true };

type EntryFor<C, K extends keyof C> = Common & { key: K; type: FlagType<NonNullable<C[K]>> } & Presence<C, K>;

/** One row of a binary's flag table; `C` is the parsed config, each entry fills `C[key]`. */
export type FlagSpec<C> = { [K in keyof C]-?: EntryFor<C, K> }[keyof C];

/** Keys of `C` no entry of the table fills (`never` when the table is complete). */
export type Uncovered<C, T extends readonly { key: PropertyKey }[]> = Exclude<keyof C, T[number]['key']>;

export const FlagErrorCode = {
  /** a flag or its environment variable has a bad value, is missing, or is unknown */
  INVALID: 'ERR_FLAG_INVALID',
} as const;

/** A bad command line or environment; `flag` names it (`--server`, or the stray argument). */
export class FlagError extends Error {
  readonly code = FlagErrorCode.INVALID;
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(message);
    this.name = 'FlagError';
    this.flag = flag;
  }
}

/** Thrown by a type's parse: `got` is the offending text (a list: the item), `detail` optional. */
export class Rejected extends Error {
  constructor(
    readonly got: string,
    readonly detail?: string,
  ) {
    super(detail ?? got);
  }
}

export function reject(got: string, detail?: string): never {
  throw new Rejected(got, detail);
}
