// The framing micro benchmark's report: a table against its targets, and the results as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Prints the table against the targets, stores the verdicts in `results.targets` and writes the JSON.
 * @param {import('./mux-bench.mjs').MuxResults} results
 * @param {{ quick: boolean, idle: number, outDir: string }} run
 */
export function report(results, { quick, idle, outDir }) {
  const m = results.metrics;
  /** @type {[string, string, string, string, boolean | ''][]} */
  const rows = [
    ['raw TLS bulk', `${m.rawMBps.toFixed(0)} MB/s`, '(reference)', '', ''],
    ['mux 1 stream bulk', `${m.mux1MBps.toFixed(0)} MB/s`, '>= 0.90 x raw', (m.mux1MBps / m.rawMBps).toFixed(2), m.mux1MBps >= 0.9 * m.rawMBps],
    ['mux 16 streams aggregate', `${m.mux16MBps.toFixed(0)} MB/s`, '(info)', (m.mux16MBps / m.rawMBps).toFixed(2), ''],
    ['mux 16 streams max/min', m.mux16MaxMin.toFixed(2), '(info)', '', ''],
    ['mux 256 streams aggregate', `${m.mux256MBps.toFixed(0)} MB/s`, '>= 0.85 x raw', (m.mux256MBps / m.rawMBps).toFixed(2), m.mux256MBps >= 0.85 * m.rawMBps],
    ['mux 256 streams max/min', m.mux256MaxMin.toFixed(2), '<= 1.5', m.mux256MaxMin.toFixed(2), m.mux256MaxMin <= 1.5],
    ['64 B msgs/s raw TLS echo', m.rawMsgPerSec.toFixed(0), '(reference)', '', ''],
    ['64 B msgs/s mux echo', m.muxMsgPerSec.toFixed(0), '(info)', (m.muxMsgPerSec / m.rawMsgPerSec).toFixed(2), ''],
    ['64 B RTT p50 raw TLS', `${m.rawRtt.p50.toFixed(3)} ms`, '(reference)', '', ''],
    ['64 B RTT p50 mux', `${m.muxRtt.p50.toFixed(3)} ms`, '<= 1.2 x raw', (m.muxRtt.p50 / m.rawRtt.p50).toFixed(2), m.muxRtt.p50 <= 1.2 * m.rawRtt.p50],
    ['64 B RTT p99 raw / mux', `${m.rawRtt.p99.toFixed(3)} / ${m.muxRtt.p99.toFixed(3)} ms`, '(info)', (m.muxRtt.p99 / m.rawRtt.p99).toFixed(2), ''],
    [
      'heap per idle stream (opener)',
      `${m.heapPerIdleStreamOpener.toFixed(0)} B`,
      '<= 2048 B',
      (m.heapPerIdleStreamOpener / 2048).toFixed(2),
      m.heapPerIdleStreamOpener <= 2048,
    ],
    [
      'heap per idle stream (acceptor)',
      `${m.heapPerIdleStreamAcceptor.toFixed(0)} B`,
      '<= 2048 B',
      (m.heapPerIdleStreamAcceptor / 2048).toFixed(2),
      m.heapPerIdleStreamAcceptor <= 2048,
    ],
  ];
  results.targets = Object.fromEntries(rows.filter((r) => r[4] !== '').map((r) => [r[0], r[4]]));
  const widths = [32, 22, 14, 7, 5];
  const line = (/** @type {(string | boolean)[]} */ cells) =>
    cells.map((c, i) => String(c === true ? 'PASS' : c === false ? 'MISS' : c).padEnd(widths[i])).join(' | ');
  console.log(`\nframing mux benchmark${quick ? ' (--quick)' : ''}, ${idle} idle streams, node ${process.version}\n`);
  console.log(line(['metric', 'value', 'target', 'ratio', 'ok']));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `framing-${results.date.slice(0, 10)}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
}
