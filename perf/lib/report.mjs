// Output: text tables (every chain, then edge-tunnel's ratio to each peer), an SVG bar chart per
// scenario, the targets verdicts, and the run's metadata.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { censusTable } from './heap-census.mjs';

/** @typedef {import('./scenarios.mjs').Row} Row */
/** @typedef {import('./scenarios.mjs').ScenarioResult} ScenarioResult */
/**
 * A row heading of a table or chart: a chain of the run (its `kind` decides subject or peer), or one
 * case of a chain (a scenario's `flatten`); `only`: the one scenario an extra chain ran.
 * @typedef {{ name: string, label?: string, kind: string, scenarios?: string[], only?: string }} TableChain
 */

const fmt = (/** @type {unknown} */ v, digits = 1) =>
  v === undefined || v === null || Number.isNaN(v) ? '—' : typeof v === 'number' ? v.toFixed(digits) : String(v);

/** @param {ScenarioResult} scenario @param {Record<string, Row>} rows @param {TableChain[]} chains */
export function table(scenario, rows, chains) {
  const cols = scenario.metrics;
  const head = ['chain', ...cols.map((m) => m.label)];
  const body = chains
    .filter((c) => rows[c.name])
    .map((c) => {
      const r = rows[c.name];
      if (r.error) return [c.name, `error: ${r.error.split('\n')[0].slice(0, 70)}`];
      return [c.name, ...cols.map((m) => fmt(r[m.key], m.digits ?? 1))];
    });
  const lines = [`## ${scenario.title}`, '', mdRow(head), mdRow(head.map(() => '---')), ...body.map(mdRow)];
  const ratios = ratioRows(scenario, rows, chains);
  if (ratios.length) {
    const primary = scenario.metrics.find((m) => m.primary);
    lines.push(
      '',
      `edge-tunnel ÷ peer on ${primary.label} (${primary.better} is better):`,
      '',
      mdRow(['', ...ratios[0].cells.map((c) => c.peer)]),
      mdRow(['---', ...ratios[0].cells.map(() => '---')]),
    );
    for (const r of ratios) lines.push(mdRow([r.subject, ...r.cells.map((c) => fmt(c.ratio, 2))]));
  }
  return lines.join('\n');
}

const mdRow = (/** @type {string[]} */ cells) => `| ${cells.join(' | ')} |`;

/**
 * The heap census diffs (--snapshots) of `idle` (per process), `sessions` and `scrape` (the server, per node), as tables.
 * @param {Record<string, ScenarioResult>} scenarios
 */
export function censusTables(scenarios) {
  const out = [];
  for (const [name, row] of Object.entries(scenarios.idle?.rows ?? {})) {
    for (const [role, diff] of Object.entries(row.census ?? {}))
      out.push(`## Heap growth per idle stream: ${name}, ${role}`, '', censusTable(diff, 'stream'), '');
  }
  for (const [name, row] of Object.entries(scenarios.sessions?.rows ?? {})) {
    if (row.census) out.push(`## Heap growth per idle agent session: ${name} (server)`, '', censusTable(row.census, 'session'), '');
  }
  for (const [name, row] of Object.entries(scenarios.scrape?.rows ?? {})) {
    if (row.census)
      out.push(
        `## Heap the scrapes left per node: ${name} (server, ${row.heapPerNode?.toFixed(0)} B per node after GC)`,
        '',
        censusTable(row.census, 'node'),
        '',
      );
  }
  return out.join('\n');
}

/**
 * subject ÷ each peer on the primary metric
 * @param {{ metrics: Pick<import('./scenarios.mjs').Metric, 'key' | 'primary'>[] }} scenario @param {Record<string, Row>} rows @param {TableChain[]} chains
 */
export function ratioRows(scenario, rows, chains) {
  const primary = scenario.metrics.find((m) => m.primary);
  const subjects = chains.filter((c) => c.kind === 'subject' && rows[c.name] && !rows[c.name].error);
  const peers = chains.filter((c) => c.kind !== 'subject' && rows[c.name] && !rows[c.name].error);
  return subjects.map((s) => ({
    subject: s.name,
    cells: [...peers, ...subjects.filter((o) => o !== s)].map((p) => ({ peer: p.name, ratio: rows[s.name][primary.key] / rows[p.name][primary.key] })),
  }));
}

/** @param {ScenarioResult} scenario @param {Record<string, Row>} rows @param {TableChain[]} chains */
export function svgChart(scenario, rows, chains) {
  const primary = scenario.metrics.find((m) => m.primary);
  const data = chains
    .filter((c) => rows[c.name] && !rows[c.name].error && Number.isFinite(rows[c.name][primary.key]))
    .map((c) => ({ name: c.name, subject: c.kind === 'subject', v: rows[c.name][primary.key] }));
  const w = 640;
  const barH = 22;
  const left = 150;
  const top = 40;
  const h = top + data.length * (barH + 6) + 20;
  const max = Math.max(1e-9, ...data.map((d) => Math.abs(d.v)));
  const esc = (/** @type {unknown} */ s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = data.map((d, i) => {
    const y = top + i * (barH + 6);
    const len = Math.max(1, (Math.abs(d.v) / max) * (w - left - 90));
    return (
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(d.name)}</text>` +
      `<rect x="${left}" y="${y}" width="${len.toFixed(1)}" height="${barH}" fill="${d.subject ? '#2b6cb0' : '#a0aec0'}"/>` +
      `<text x="${left + len + 6}" y="${y + 15}">${fmt(d.v, primary.digits ?? 1)}</text>`
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">` +
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(scenario.title)}</text>` +
    `<text x="10" y="34" fill="#555">${esc(primary.label)} (${primary.better} is better)</text>${bars.join('')}</svg>\n`
  );
}

/**
 * the commit, read from .git without running git
 * @param {string} root
 */
export function commitOf(root) {
  try {
    const gitDir = join(root, '.git');
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    if (existsSync(join(gitDir, ref))) return readFileSync(join(gitDir, ref), 'utf8').trim();
    const packed = readFileSync(join(gitDir, 'packed-refs'), 'utf8')
      .split('\n')
      .find((l) => l.endsWith(` ${ref}`));
    return packed?.split(' ')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machine() {
  const cpus = os.cpus();
  let ssh;
  try {
    ssh = execFileSync('ssh', ['-V'], { stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .trim();
  } catch (err) {
    ssh = err.stderr?.toString().trim();
  }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    platform: os.platform(),
    openssh: ssh,
  };
}
