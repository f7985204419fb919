// `reconnect` (issue 17): one bulk stream and a 64-byte RTT ping-pong on the edge-tunnel chain with
// resumption on (the default: server --resume-grace-ms 60000, agent --resume on), first without
// reconnects, then with the agent's TCP connection killed every `reconnectPeriodMs` (`ss -K` of the
// sockets to the server's agent port: the kernel resets them, as a NAT rebinding or a load balancer's
// idle timeout would), then without again. Goodput kept = MB/s with reconnects ÷ the mean of the two
// phases without around it (same run, same streams), the median over 3 such with-phases (2 with
// --tiny). The pause of each reconnect, as the caller sees it:
// the longest gap between ping answers around the kill (the ping-pong never stops, so one is
// always in flight); as the agent sees it: `pausedMs` of its `session resumed` log line.
import { execFile, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { connectTo, echoStream, median, percentile, readInBackground } from './client.mjs';

const MB = 1e6;
/** with-phases (each between two without-phases) the kills are spread over */
const ROUNDS = 3;
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Kills the established TCP connections to 127.0.0.1:`port` (the agent's, to its server): the
 * kernel sends RST to the server's end. Resolves with how many sockets `ss` killed and when it
 * returned (performance.now(); the kill is done by then), without blocking the event loop (the
 * ping-pong goes on meanwhile).
 * @param {number} port
 * @returns {Promise<{ killed: number, at: number }>}
 */
export function killConnectionsTo(port) {
  return new Promise((resolve, reject) => {
    execFile('ss', ['-K', '-tnH', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ss -K failed: ${stderr.trim() || err.message}`));
      resolve({ killed: stdout.split('\n').filter((l) => l.trim()).length, at: performance.now() });
    });
  });
}

/** Why this machine cannot run the scenario (undefined: it can): `ss -K` needs root. */
export function reconnectUnavailable() {
  if (process.getuid?.() !== 0) return "needs root (ss -K kills the agent's TCP connection)";
  const r = spawnSync('ss', ['-V'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'needs ss (iproute2)';
}

/**
 * The pause of each kill as the caller sees it: the longest gap between two consecutive ping answers
 * from the last answer before the kill started (`ss` spawned) until the next kill. The ping-pong
 * never stops, so outside a pause the gaps are one round trip; `ss` returning is no clock for the
 * kill itself (on a loaded machine its exit was seen 170–400 ms after the agent logged the loss).
 * @param {number[]} starts performance.now() when each kill began, ascending
 * @param {number[]} answered performance.now() of each ping's answer, ascending
 * @returns {number[]}
 */
export function pausesAfter(starts, answered) {
  const out = [];
  for (let i = 0; i < starts.length; i++) {
    const until = starts[i + 1] ?? Infinity;
    let prev = -1;
    for (let j = answered.length - 1; j >= 0; j--) {
      if (answered[j] <= starts[i]) {
        prev = j;
        break;
      }
    }
    let gap;
    for (let j = prev >= 0 ? prev + 1 : 1; j < answered.length && answered[j] < until; j++) gap = Math.max(gap ?? 0, answered[j] - answered[j - 1]);
    if (gap !== undefined && answered.some((a) => a > starts[i] && a < until)) out.push(gap);
  }
  return out;
}

/**
 * `pausedMs` of the agent's `session resumed` lines logged at or after `sinceMs` (epoch ms).
 * @param {string | undefined} logFile
 * @param {number} sinceMs
 * @returns {number[]}
 */
export function resumedPauses(logFile, sinceMs) {
  if (!logFile) return [];
  const out = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('"session resumed"')) continue;
    try {
      const rec = JSON.parse(line);
      if (rec.time >= sinceMs && typeof rec.pausedMs === 'number') out.push(rec.pausedMs);
    } catch {
      // a line cut by the write in progress
    }
  }
  return out;
}

/**
 * The lines about resumption (losses, attempts, failures) logged at or after `sinceMs`, as
 * `+ms msg (reason)` relative to `sinceMs`: where a pause went.
 * @param {string | undefined} logFile
 * @param {number} sinceMs
 * @returns {string[]}
 */
export function resumeLog(logFile, sinceMs) {
  if (!logFile) return [];
  const out = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!/resum|lost|redial/.test(line)) continue;
    try {
      const rec = JSON.parse(line);
      if (rec.time >= sinceMs)
        out.push(
          `+${rec.time - sinceMs} ${rec.msg}${rec.reason ? ` (${rec.reason})` : ''}${rec.pausedMs !== undefined ? ` ${rec.pausedMs} ms` : ''}${rec.replayedBytes !== undefined ? `, ${rec.replayedBytes} B replayed` : ''}`,
        );
    } catch {
      // a line cut by the write in progress
    }
  }
  return out;
}

/**
 * @param {number[]} xs
 * @param {number} p
 */
const pct = (xs, p) =>
  xs.length
    ? percentile(
        [...xs].sort((a, b) => a - b),
        p,
      )
    : undefined;

/**
 * @param {import('./scenarios.mjs').ScenarioCtx} ctx
 */
async function run({ started, sizes, progress }) {
  const why = reconnectUnavailable();
  if (why) return { error: why };
  const { endpoint, procs, server } = started;
  if (!endpoint || !procs || !server) return { error: 'the chain started without an endpoint, processes or a server' };
  const { reconnectCuts: cuts, reconnectPeriodMs: period } = sizes;
  const agent = procs.find((p) => p.role === 'agent')?.proc;
  const sinceMs = Date.now();
  const loadBefore = loadavg()[0];
  const bulkSocket = await connectTo(endpoint);
  const bulk = readInBackground(bulkSocket);
  /** @type {string | undefined} */
  let lost;
  bulkSocket.once('close', () => (lost ??= 'the bulk stream closed'));
  const echoSocket = await connectTo(endpoint);
  echoSocket.once('close', () => (lost ??= 'the RTT probe stream closed'));
  const echo = await echoStream(echoSocket);
  /** @type {number[]} */
  const answered = [];
  let pinging = true;
  const msg = Buffer.alloc(64, 0x61);
  const pinger = (async () => {
    while (pinging && !lost) {
      await echo.rtt(msg);
      answered.push(performance.now());
    }
  })();
  const phase = async (/** @type {number} */ ms) => (bulk.mark(), await sleep(ms), bulk.mark());
  try {
    await sleep(period / 2); // warm: windows grown, JIT
    // without, with, without, with, …, without: each with-phase judged against the phases on either
    // side (the load of this shared machine swings between phases: one long with-phase between two
    // without ones read 0.66–1.35 × over three runs)
    const rounds = Math.min(cuts, ROUNDS);
    const rate = (/** @type {{ bytes: number, ms: number }} */ m) => m.bytes / (m.ms / 1000) / MB;
    const without = [rate(await phase(2 * period))];
    /** @type {number[]} */
    const withCuts = [];
    /** @type {number[]} */
    const kills = [];
    let killed = 0;
    for (let r = 0; r < rounds && !lost; r++) {
      bulk.mark();
      const n = Math.round(((r + 1) * cuts) / rounds) - Math.round((r * cuts) / rounds);
      for (let i = 0; i < n && !lost; i++) {
        progress?.(`reconnect · edge-tunnel: kill ${kills.length + 1}/${cuts}`);
        const next = sleep(period);
        kills.push(performance.now());
        killed += (await killConnectionsTo(server.agent)).killed;
        await next;
      }
      withCuts.push(rate(bulk.mark()));
      without.push(rate(await phase(2 * period)));
    }
    if (lost) return { error: `${lost} across a reconnect (no resume?)` };
    const ratios = withCuts.map((w, i) => w / ((without[i] + without[i + 1]) / 2));
    const mean = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const pauses = pausesAfter(kills, answered);
    const resumed = resumedPauses(agent?.logFile, sinceMs);
    return {
      kept: median(ratios),
      keptRounds: ratios.map((x) => Math.round(x * 1000) / 1000),
      steady: mean(without),
      withCuts: mean(withCuts),
      pauseP50: pct(pauses, 50),
      pauseP99: pct(pauses, 99),
      pauseMax: pauses.length ? Math.max(...pauses) : undefined,
      resumedP50: pct(resumed, 50),
      resumedP99: pct(resumed, 99),
      cuts: kills.length,
      load: [loadBefore, loadavg()[0]].map((x) => Math.round(x * 10) / 10),
      socketsKilled: killed,
      resumes: resumed.length,
      pauses: pauses.map((x) => Math.round(x * 10) / 10),
      kills: kills.map((t) => Math.round(Date.now() - performance.now() + t - sinceMs)),
      agentLog: resumeLog(agent?.logFile, sinceMs),
      serverLog: resumeLog(procs.find((p) => p.role === 'server')?.proc.logFile, sinceMs),
    };
  } finally {
    pinging = false;
    bulk.stop();
    echo.close();
    await Promise.race([pinger, sleep(1000)]);
  }
}

/** The scenario (lib/scenarios.mjs pushes it onto SCENARIOS). */
export const reconnectScenario = {
  id: 'reconnect',
  title: "A bulk stream and an RTT probe across a forced reconnect (ss -K of the agent's connection) every 5 s",
  chains: ['edge-tunnel'],
  metrics: [
    { key: 'kept', label: 'goodput kept (with ÷ without)', better: 'higher', primary: true, digits: 3 },
    { key: 'steady', label: 'MB/s without', better: 'higher' },
    { key: 'withCuts', label: 'MB/s with reconnects', better: 'higher' },
    { key: 'pauseP50', label: 'pause p50 ms (probe)', better: 'lower', digits: 1 },
    { key: 'pauseP99', label: 'pause p99 ms (probe)', better: 'lower', digits: 1 },
    { key: 'resumedP50', label: 'agent pausedMs p50', better: 'lower', digits: 1 },
    { key: 'resumedP99', label: 'agent pausedMs p99', better: 'lower', digits: 1 },
    { key: 'cuts', label: 'reconnects', better: 'higher', digits: 0 },
    { key: 'resumes', label: 'resumes logged', better: 'higher', digits: 0 },
  ],
  run,
};
