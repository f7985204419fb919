// One binary's flags: parse argv + environment into a complete config (flag > env > default), and
// print --help. Pure: no file, socket or process state is touched.
import { FlagError, Rejected, type FlagSpec } from './spec.js';

export interface FlagSetOptions<C> {
  /** the binary, for `usage: <binary> [flags]` */
  binary: string;
  /** environment variables are this + NAME (`EDGE_TUNNEL_` + `AGENT_ADDR`) unless an entry names its own */
  envPrefix: string;
  /** lines printed between the usage line and the flags */
  intro?: readonly string[];
  flags: readonly FlagSpec<C>[];
}

export type Env = Readonly<Record<string, string | undefined>>;
export type Parsed<C> = { help: true; usage: string } | { help: false; values: C };

/** Where a flag's value came from (for errors). */
type Source = { text: string[]; from: 'flag' | 'env' | 'default' };

export class FlagSet<C> {
  readonly binary: string;
  readonly flags: readonly FlagSpec<C>[];
  readonly #prefix: string;
  readonly #intro: readonly string[];
  readonly #byName = new Map<string, FlagSpec<C>>();

  constructor(opts: FlagSetOptions<C>) {
    this.binary = opts.binary;
    this.flags = opts.flags;
    this.#prefix = opts.envPrefix;
    this.#intro = opts.intro ?? [];
    const keys = new Set<PropertyKey>();
    for (const f of opts.flags) {
      if (this.#byName.has(f.name) || keys.has(f.key)) throw new Error(`flag table of ${opts.binary}: --${f.name} (${String(f.key)}) is listed twice`);
      this.#byName.set(f.name, f);
      keys.add(f.key);
    }
  }

  /** The environment variable of a flag. */
  env(name: string): string {
    const spec = this.#byName.get(name);
    return spec?.env ?? `${this.#prefix}${name.toUpperCase().replaceAll('-', '_')}`;
  }

  /** The flag that fills `key` (`--agent-addr` for agentAddr), for the app's cross-flag sentences. */
  flagOf(key: keyof C): string {
    const spec = this.flags.find((f) => f.key === key);
    if (!spec) throw new Error(`no flag fills ${String(key)}`);
    return `--${spec.name}`;
  }

  /** The default as --help and the README show it: `defaultText`, the default, `required` or `none`. */
  shownDefault(spec: FlagSpec<C>): string {
    if (spec.defaultText !== undefined) return spec.defaultText;
    if (spec.default !== undefined && spec.default.trim() !== '') return spec.default;
    return spec.required ? 'required' : 'none';
  }

  /** argv (without node and script) + env → every key of C; throws FlagError naming the flag. */
  parse(argv: readonly string[], env: Env = {}): Parsed<C> {
    const given = this.#readArgv(argv);
    if (given === 'help') return { help: true, usage: this.usage() };
    const out: Record<PropertyKey, unknown> = {};
    let missing: FlagSpec<C> | undefined;
    for (const spec of this.flags) {
      const source = this.#source(spec, given.get(spec.name), env);
      if (source !== undefined) out[spec.key] = this.#convert(spec, source);
      else if (spec.required) missing ??= spec;
    }
    // a bad value given is reported before a flag not given
    if (missing) throw new FlagError(`--${missing.name}`, `--${missing.name} is required (or set ${this.env(missing.name)})`);
    return { help: false, values: out as C };
  }

  /** The --help text: per flag its syntax, help and default, then its environment variable. */
  usage(): string {
    const lines = this.flags.map((f) => {
      const syntax = f.type.kind === 'bool' ? '[=bool]' : f.type.kind === 'list' ? ' <value> …' : ' <value>';
      const left = `  --${f.name}${syntax}`;
      const shown = this.shownDefault(f);
      const def = shown === 'none' ? '' : shown.startsWith('required') ? ` (${shown})` : ` (default ${shown})`;
      return `${left.padEnd(36)} ${f.help}${def}\n${''.padEnd(37)}env ${this.env(f.name)}`;
    });
    const intro = this.#intro.length > 0 ? [...this.#intro, ''] : [];
    return [`usage: ${this.binary} [flags]`, '', ...intro, ...lines, '  --help', ''].join('\n');
  }

  /** A blank value is no value: the next source (flag, env, default) applies. */
  #source(spec: FlagSpec<C>, flagValues: string[] | undefined, env: Env): Source | undefined {
    const filled = flagValues?.filter((v) => v.trim() !== '');
    if (filled && filled.length > 0) return { text: filled, from: 'flag' };
    const fromEnv = env[this.env(spec.name)];
    if (fromEnv !== undefined && fromEnv.trim() !== '') return { text: [fromEnv], from: 'env' };
    if (spec.default !== undefined && (spec.default.trim() !== '' || spec.type.kind === 'list')) return { text: [spec.default], from: 'default' };
    return undefined;
  }

  #convert(spec: FlagSpec<C>, source: Source): unknown {
    try {
      if (spec.type.kind === 'list') {
        const sep = spec.type.separators;
        return spec.type.parse(
          source.text
            .flatMap((t) => t.split(sep))
            .map((i) => i.trim())
            .filter((i) => i !== ''),
        );
      }
      return spec.type.parse(source.text[source.text.length - 1]!);
    } catch (err) {
      if (!(err instanceof Rejected)) throw err;
      const detail = err.detail ? ` (${err.detail})` : '';
      const where = source.from === 'default' ? ' (its default)' : '';
      throw new FlagError(
        `--${spec.name}`,
        `--${spec.name} (env ${this.env(spec.name)}) must be ${spec.type.expects}, got ${JSON.stringify(err.got)}${detail}${where}`,
      );
    }
  }

  /** `--x v`, `--x=v`; a bool also `--x` alone (before another flag or at the end); a list flag repeats. */
  #readArgv(argv: readonly string[]): Map<string, string[]> | 'help' {
    const given = new Map<string, string[]>();
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (arg === '--help' || arg === '-h') return 'help';
      const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
      if (!m) throw new FlagError(arg, `unexpected argument ${JSON.stringify(arg)} (see --help)`);
      const spec = this.#byName.get(m[1]!);
      if (!spec) throw new FlagError(`--${m[1]}`, `unknown argument ${JSON.stringify(`--${m[1]}`)} (see --help)`);
      let value = m[2];
      // a bool takes the next argument unless it is a flag: no binary has positional arguments, so
      // `--x maybe` is a bad value of --x, not a stray word
      if (value === undefined && spec.type.kind === 'bool') value = argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-') ? argv[++i]! : 'true';
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new FlagError(`--${spec.name}`, `--${spec.name} needs a value`);
      }
      // a list accumulates; any other flag given twice keeps the last value
      given.set(spec.name, spec.type.kind === 'list' ? [...(given.get(spec.name) ?? []), value] : [value]);
    }
    return given;
  }
}
