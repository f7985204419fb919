// What grew between two V8 heap snapshots (`v8.writeHeapSnapshot`), by kind of object: count and
// self size per (type, constructor/closure name), divided by the number of sessions or streams the
// scenario added. Self sizes, not retained sizes: every object counts once, under its own name.
// Native memory outside the JS heap (OpenSSL, libuv) is not in a snapshot: compare RSS for that.
//   node lib/heap-census.mjs before.heapsnapshot after.heapsnapshot <n> [top]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** "type name" → { count, size } (census) @typedef {Map<string, { count: number, size: number }>} Census */
/** What grew per unit, largest first (diffCensus). @typedef {{ total: number, rows: { kind: string, perUnit: number, countPerUnit: number }[], other: number }} CensusDiff */
/**
 * The parts of a V8 heap snapshot file the census reads: nodes as flat fields, their names in `strings`.
 * @typedef {{ snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] } }, nodes: number[], strings: string[] }} HeapSnapshot
 */

/**
 * Map "type name" → { count, size } over every node of a snapshot file.
 * @param {string} file
 * @returns {Census}
 */
export function census(file) {
  /** @type {HeapSnapshot} */
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const { nodes, strings } = snap;
  const out = new Map();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const key = kindOf(types[nodes[i + iType]], strings[nodes[i + iName]]);
    const row = out.get(key) ?? { count: 0, size: 0 };
    row.count += 1;
    row.size += nodes[i + iSize];
    out.set(key, row);
  }
  return out;
}

/** A readable key: strings and numbers are lumped together, everything else keeps its name. */
/** @param {string} type @param {string} name */
function kindOf(type, name) {
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return '(strings)';
  if (type === 'number' || type === 'code' || type === 'object shape') return `(${type})`;
  return `${type} ${name.length > 60 ? `${name.slice(0, 57)}…` : name}`;
}

/**
 * Rows of after − before, per unit (n), largest first; `other` sums what is beyond `top`.
 * @param {Census} before @param {Census} after @param {number} n
 * @returns {CensusDiff}
 */
export function diffCensus(before, after, n, top = 25) {
  /** @type {CensusDiff['rows']} */
  const rows = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, size: 0 };
    const size = a.size - b.size;
    if (size !== 0) rows.push({ kind: key, perUnit: size / n, countPerUnit: (a.count - b.count) / n });
  }
  for (const [key, b] of before) if (!after.has(key)) rows.push({ kind: key, perUnit: -b.size / n, countPerUnit: -b.count / n });
  rows.sort((x, y) => y.perUnit - x.perUnit);
  const total = rows.reduce((s, r) => s + r.perUnit, 0);
  const shown = rows.slice(0, top);
  const other = rows.slice(top).reduce((s, r) => s + r.perUnit, 0);
  return { total, rows: shown, other };
}

/**
 * The census diff as a markdown table.
 * @param {CensusDiff} diff @param {string} unit
 */
export function censusTable({ total, rows, other }, unit) {
  const r = (/** @type {number} */ v, d = 0) => v.toFixed(d);
  return [
    `| kind (type name) | B per ${unit} | objects per ${unit} |`,
    '| --- | ---: | ---: |',
    ...rows.map((x) => `| ${x.kind.replace(/\|/g, '\\|')} | ${r(x.perUnit)} | ${r(x.countPerUnit, 2)} |`),
    `| (everything else) | ${r(other)} | |`,
    `| **total** | **${r(total)}** | |`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [before, after, n, top] = process.argv.slice(2);
  if (!before || !after || !n) {
    process.stderr.write('usage: node heap-census.mjs before.heapsnapshot after.heapsnapshot <n> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${censusTable(diffCensus(census(before), census(after), Number(n), Number(top ?? 25)), 'unit')}\n`);
}
