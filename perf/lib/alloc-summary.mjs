// What a step allocated, by allocation site, from a sampling heap profile (probe.mjs PERF_HEAP_SAMPLE,
// collected objects included): self bytes per function (name file:line), largest first, and the total;
// with a unit count (scrapes, sessions), per unit.
//   node lib/alloc-summary.mjs <file.heapprofile> [units] [top]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** @typedef {{ callFrame: { functionName: string, url: string, lineNumber: number }, selfSize: number, children: Node[] }} Node */

/** @param {{ head: Node }} profile @returns {{ total: number, sites: [string, number][] }} */
export function allocSites(profile) {
  /** @type {Map<string, number>} */
  const sites = new Map();
  let total = 0;
  const walk = (/** @type {Node} */ n) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist|lib)\//, '$1/').replace(/^node:/, '')}:${lineNumber + 1}`;
    if (n.selfSize) sites.set(key, (sites.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return { total, sites: [...sites].sort((a, b) => b[1] - a[1]) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, units = '1', top = '30'] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node alloc-summary.mjs <file.heapprofile> [units] [top]\n');
    process.exit(2);
  }
  const u = Number(units);
  const { total, sites } = allocSites(JSON.parse(readFileSync(file, 'utf8')));
  const out = ['| allocation site | B per unit | share |', '| --- | ---: | ---: |'];
  for (const [k, v] of sites.slice(0, Number(top))) out.push(`| ${k.replace(/\|/g, '\\|')} | ${(v / u).toFixed(0)} | ${((v / total) * 100).toFixed(1)} % |`);
  out.push(`| **total** | **${(total / u).toFixed(0)}** | |`);
  process.stdout.write(`${out.join('\n')}\n`);
}
