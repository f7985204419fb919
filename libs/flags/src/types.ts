// The value types a flag table uses. Each knows what it expects (for the one error sentence) and
// parses command-line text; ranges are parameters, so the table row shows a flag's whole rule.
import { reject, type ListType, type ScalarType } from './spec.js';

/** List items are separated by `;` (the documented one) or `,` (also accepted). */
export const LIST_SEPARATORS = /[;,]/;
/** For lists whose items contain commas (label selectors): `;` only. */
export const SEMICOLON = /;/;

const TRUE = ['true', 'on', 'yes', '1'];
const FALSE = ['false', 'off', 'no', '0'];

/** Any text (trimmed). */
export function text(): ScalarType<string> {
  return { kind: 'scalar', expects: 'text', parse: (t) => t.trim() };
}

/** `--x`, `--x=true|false`, `--x on|off` (also yes/no, 1/0). */
export function bool(): ScalarType<boolean> {
  return {
    kind: 'bool',
    expects: 'true or false (or on, off)',
    parse: (t) => {
      const v = t.trim().toLowerCase();
      if (TRUE.includes(v)) return true;
      if (FALSE.includes(v)) return false;
      return reject(t);
    },
  };
}

function wholeNumber(t: string, min: number, max: number, atMost: boolean): number {
  const v = t.trim();
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min) return reject(t);
  if (n > max) return reject(t, atMost ? `at most ${max}` : undefined);
  return n;
}

/** A whole number in [min, max], both shown. */
export function int(min: number, max: number): ScalarType<number> {
  return { kind: 'scalar', expects: `a whole number from ${min} to ${max}`, parse: (t) => wholeNumber(t, min, max, false) };
}

/** A whole number ≥ 1 (the 2^31 − 1 ceiling is shown only to a value above it). */
export function count(): ScalarType<number> {
  return { kind: 'scalar', expects: 'a whole number ≥ 1', parse: (t) => wholeNumber(t, 1, 2 ** 31 - 1, true) };
}

/** Milliseconds ≥ min (0: "a whole number of milliseconds"); the ceiling is shown to a value above it. */
export function ms(min = 1, max = 86_400_000): ScalarType<number> {
  const expects = min === 0 ? 'a whole number of milliseconds' : `a whole number of milliseconds ≥ ${min}`;
  return { kind: 'scalar', expects, parse: (t) => wholeNumber(t, min, max, true) };
}

/** One of a fixed set of words (compared lower-case). */
export function oneOf<const W extends string>(words: readonly W[]): ScalarType<W> {
  return {
    kind: 'scalar',
    expects: `one of ${words.join(', ')}`,
    parse: (t) => {
      const v = t.trim().toLowerCase();
      return (words as readonly string[]).includes(v) ? (v as W) : reject(t);
    },
  };
}

/** A scalar type of the app's own: `parse` returns the value or calls reject(got, detail?). */
export function custom<T>(expects: string, parse: (text: string) => T): ScalarType<T> {
  return { kind: 'scalar', expects, parse: (t) => parse(t.trim()) };
}

/** A repeatable list: each item through `item` (default: the text), duplicates dropped. */
export function list<T = string>(expects: string, item?: (text: string) => T, separators: RegExp = LIST_SEPARATORS): ListType<T[]> {
  return {
    kind: 'list',
    expects,
    separators,
    parse: (items) => {
      const out = [...new Set(items)].map((i) => (item ? item(i) : (i as T)));
      return out;
    },
  };
}

/** A repeatable list folded into one value (`http=25;connect=25` → a record). */
export function listOf<T>(expects: string, parse: (items: readonly string[]) => T, separators: RegExp = LIST_SEPARATORS): ListType<T> {
  return { kind: 'list', expects, separators, parse };
}
