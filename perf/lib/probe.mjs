// Preloaded (`node --expose-gc --import probe.mjs …`) into every Node process of a chain under test:
// answers {perfProbe} IPC messages with heap, external, RSS and fd count, after a full GC when
// asked, then writes a heap snapshot when the message names a file (`snapshot`); and the event loop's
// delay (max and p99 ms since the last `eldReset`, from perf_hooks; it includes time the process
// waited for a CPU, so read it beside the machine's load).
// The IPC channel is unref'd so it never keeps the process alive.
// PERF_GC_LOG=<dir>: every GC pause (perf_hooks 'gc' entries) is appended to <dir>/gc-<pid>.txt as
// `<ms since start> <kind> <duration ms>`, the process's argv on the first line, and a line
// `# probe <ms since start>[ reset]` at every probe, so that a measured step (between the probe that
// resets the loop delay and the next) can be cut out (`gc-summary.mjs`).
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, constants as perfConstants, monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { Session } from 'node:inspector';

const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();

/** @type {(line: string) => void} */
let gcMark = () => {};
if (process.env.PERF_GC_LOG) {
  const file = join(process.env.PERF_GC_LOG, `gc-${process.pid}.txt`);
  const kinds = {
    [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  appendFileSync(file, `# ${process.argv.slice(1).join(' ')}\n`);
  let lines = '';
  const flush = () => {
    if (lines) appendFileSync(file, lines);
    lines = '';
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines += `${e.startTime.toFixed(0)} ${kinds[/** @type {any} */ (e).detail?.kind] ?? 'other'} ${e.duration.toFixed(2)}\n`;
  }).observe({ entryTypes: ['gc'] });
  gcMark = (line) => (lines += `${line}\n`);
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}

// PERF_HEAP_SAMPLE=<dir>: V8's sampling heap profiler runs from each probe that resets the loop
// delay to the next probe, counting objects the GC has already collected too (what a step allocates,
// not what it keeps), written to <dir>/alloc-<pid>-<n>.heapprofile (DevTools; `alloc-summary.mjs`).
/** @type {(reset: boolean) => void} */
let heapSample = () => {};
if (process.env.PERF_HEAP_SAMPLE) {
  const inspector = new Session();
  inspector.connect();
  let sampling = false;
  let n = 0;
  const post = (/** @type {string} */ m, /** @type {object} */ p = {}) =>
    new Promise((resolve, reject) => inspector.post(m, p, (err, res) => (err ? reject(err) : resolve(res))));
  heapSample = async (reset) => {
    if (sampling) {
      sampling = false;
      const { profile } = /** @type {any} */ (await post('HeapProfiler.stopSampling'));
      appendFileSync(join(process.env.PERF_HEAP_SAMPLE, `alloc-${process.pid}-${++n}.heapprofile`), JSON.stringify(profile));
    }
    if (!reset) return;
    sampling = true;
    await post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  };
}

if (process.channel) {
  process.on('message', (/** @type {any} */ msg) => {
    if (!msg || msg.perfProbe === undefined) return;
    gcMark(`# probe ${performance.now().toFixed(0)}${msg.eldReset ? ' reset' : ''}`);
    heapSample(Boolean(msg.eldReset));
    if (msg.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    const mu = process.memoryUsage();
    let fds = -1;
    try {
      fds = readdirSync('/proc/self/fd').length;
    } catch {
      // no /proc: fds stay unknown
    }
    if (msg.snapshot) writeHeapSnapshot(msg.snapshot);
    const loop = { eldMaxMs: eld.max / 1e6, eldP99Ms: eld.percentile(99) / 1e6 };
    if (msg.eldReset) eld.reset();
    process.send({ perfProbe: msg.perfProbe, heapUsed: mu.heapUsed, rss: mu.rss, external: mu.external, fds, ...loop });
  });
  process.channel.unref();
}
