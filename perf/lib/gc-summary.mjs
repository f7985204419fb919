// GC pauses of the chain's processes from a PERF_GC_LOG directory (probe.mjs): per process, all of
// its pauses and those of each measured step (from a probe that reset the loop delay to the next
// probe): count, total, longest, ≥ 40 ms, and scavenges / mark-compacts with their mean.
//   node lib/gc-summary.mjs <dir> [--steps]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** @typedef {{ at: number, kind: string, ms: number }} Pause */
/** @typedef {{ pauses: number, totalMs: number, maxMs: number, over40: number, minor: number, minorMeanMs: number, major: number, majorMeanMs: number, spanS: number }} GcStats */

/** @param {string} text @returns {{ argv: string, pauses: Pause[], steps: [number, number][] }} */
export function parseGcLog(text) {
  const lines = text.split('\n').filter(Boolean);
  const argv = (lines[0] ?? '').replace(/^# /, '');
  /** @type {Pause[]} */
  const pauses = [];
  /** @type {[number, number][]} */
  const steps = [];
  let open;
  for (const line of lines.slice(1)) {
    const probe = /^# probe (\d+)( reset)?/.exec(line);
    if (probe) {
      if (open !== undefined) steps.push([open, Number(probe[1])]);
      open = probe[2] ? Number(probe[1]) : undefined;
      continue;
    }
    const [at, kind, ms] = line.split(' ');
    pauses.push({ at: Number(at), kind, ms: Number(ms) });
  }
  return { argv, pauses, steps };
}

/** @param {Pause[]} pauses @param {number} spanMs @returns {GcStats} */
export function gcStats(pauses, spanMs) {
  const of = (/** @type {string} */ k) => pauses.filter((p) => p.kind === k);
  const mean = (/** @type {Pause[]} */ ps) => (ps.length ? ps.reduce((s, p) => s + p.ms, 0) / ps.length : 0);
  return {
    pauses: pauses.length,
    totalMs: pauses.reduce((s, p) => s + p.ms, 0),
    maxMs: pauses.reduce((m, p) => Math.max(m, p.ms), 0),
    over40: pauses.filter((p) => p.ms >= 40).length,
    minor: of('minor').length,
    minorMeanMs: mean(of('minor')),
    major: of('major').length,
    majorMeanMs: mean(of('major')),
    spanS: spanMs / 1000,
  };
}

/** @param {string} dir @returns {{ pid: string, argv: string, all: GcStats, steps: GcStats[] }[]} */
export function summarise(dir) {
  return readdirSync(dir)
    .filter((f) => /^gc-\d+\.txt$/.test(f))
    .map((f) => {
      const { argv, pauses, steps } = parseGcLog(readFileSync(join(dir, f), 'utf8'));
      const last = pauses.at(-1)?.at ?? 0;
      return {
        pid: f.slice(3, -4),
        argv,
        all: gcStats(pauses, last),
        steps: steps.map(([a, b]) =>
          gcStats(
            pauses.filter((p) => p.at >= a && p.at < b),
            b - a,
          ),
        ),
      };
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node gc-summary.mjs <PERF_GC_LOG dir>\n');
    process.exit(2);
  }
  const f = (/** @type {number} */ v) => v.toFixed(0);
  const row = (/** @type {string} */ name, /** @type {GcStats} */ s) =>
    `| ${name} | ${f(s.spanS)} | ${s.pauses} | ${f(s.totalMs)} | ${f(s.maxMs)} | ${s.over40} | ${s.minor} / ${s.minorMeanMs.toFixed(1)} | ${s.major} / ${s.majorMeanMs.toFixed(1)} |`;
  const out = [
    '| process | s | pauses | total ms | max ms | ≥ 40 ms | scavenges / mean ms | mark-compacts / mean ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of summarise(dir)) {
    const name = (/\/([\w.-]+\.m?js)/.exec(p.argv)?.[1] ?? p.pid).replace(/\.m?js$/, '');
    out.push(row(`${name} (all)`, p.all));
    p.steps.forEach((s, i) => out.push(row(`${name} step ${i + 1}`, s)));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
