// Checks a README's flag tables against the flag table: the README keeps its prose (why a flag
// exists, what to set it to), the check keeps names, environment variables and defaults exact.
import { tableCells } from '@edge-tunnel/doc-tables';
import type { FlagSet } from './flag-set.js';

/** A table whose header row is this holds flags (a README may split its flags over several). */
export const README_HEADER = '| flag | env | default | meaning |';

export interface ReadmeRow {
  flags: string[];
  env: string[];
  /** the default cell without backticks and without a trailing `(…)` remark */
  default: string;
  line: number;
}

/** Rows of every flag table in `markdown`: flag cells may hold several flags (`--cert`, `--key`). */
export function readmeFlagRows(markdown: string): ReadmeRow[] {
  const rows: ReadmeRow[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== README_HEADER) continue;
    for (let j = i + 2; j < lines.length && lines[j]!.startsWith('|'); j++) {
      const cells = tableCells(lines[j]!);
      rows.push({
        flags: ticks(cells[0] ?? '')
          .filter((s) => s.startsWith('--'))
          .map((s) => /^--([a-z0-9-]+)/.exec(s)![1]!),
        env: ticks(withoutRemark(cells[1] ?? '')).filter((s) => /^[A-Z][A-Z0-9_]*$/.test(s)),
        default: withoutRemark(cells[2] ?? '')
          .replaceAll('`', '')
          .trim(),
        line: j + 1,
      });
    }
  }
  return rows;
}

/** Every difference between the README's flag tables and `set`; [] when they agree. */
export function readmeFlagProblems<C>(set: FlagSet<C>, markdown: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const row of readmeFlagRows(markdown)) {
    if (row.flags.length === 0) problems.push(`line ${row.line}: no \`--flag\` in the first cell`);
    row.flags.forEach((name, k) => {
      if (name === 'help') return;
      const spec = set.flags.find((f) => f.name === name);
      if (!spec) return void problems.push(`line ${row.line}: --${name} is not a flag of ${set.binary}`);
      if (seen.has(name)) problems.push(`line ${row.line}: --${name} is listed again (first on line ${seen.get(name)})`);
      seen.set(name, row.line);
      if (row.env[k] !== set.env(name)) problems.push(`line ${row.line}: --${name} env is ${set.env(name)}, the README says ${row.env[k] ?? 'nothing'}`);
      const shown = set.shownDefault(spec);
      if (row.default !== shown)
        problems.push(`line ${row.line}: --${name} default is ${JSON.stringify(shown)}, the README says ${JSON.stringify(row.default)}`);
    });
  }
  for (const f of set.flags) if (!seen.has(f.name)) problems.push(`--${f.name} is missing from the README's flag tables`);
  return problems;
}

function ticks(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** `none (built-in ports only)` → `none`: a trailing remark in parentheses is prose. */
function withoutRemark(cell: string): string {
  return cell.replace(/\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$/, '').trim();
}
