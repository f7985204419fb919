// Child processes of a benchmark run: spawn (Node scripts get the probe preloaded), wait for a log
// line, probe heap/RSS/fds, stop. Every process started here is stopped by its own handle.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));
// PERF_CPU_PROF=<dir>: every Node child writes a V8 CPU profile there when it exits (NODE_OPTIONS
// refuses --cpu-prof); open them in Chrome DevTools or summarise the self time per function
const CPU_PROF = process.env.PERF_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.PERF_CPU_PROF] : [];
let probeSeq = 0;

/**
 * One probe of a process (procs.mjs `probe`): heap and external are Node's (undefined for other
 * processes), RSS and fds from /proc, event-loop delay (ms) from the probe preloaded into a Node child.
 * @typedef {{ heapUsed?: number, external?: number, rss?: number, fds?: number, eldMaxMs?: number, eldP99Ms?: number }} ProbeSample
 */
/** @typedef {ReturnType<typeof spawnProc>} Proc a running child (spawnProc) */

/**
 * A running child: `lines` keeps the last lines of stdout+stderr for error messages.
 * @param {string} name @param {string} cmd @param {string[]} args
 * `nodeArgs`: V8 / Node flags of a Node child (before the script), e.g. `--max-semi-space-size=32`.
 * @param {{ node?: boolean, env?: NodeJS.ProcessEnv, keep?: number, logFile?: string, nodeArgs?: string[] }} [opts]
 */
export function spawnProc(name, cmd, args, { node = false, env, keep = 40, logFile, nodeArgs = [] } = {}) {
  const argv = node ? [...CPU_PROF, ...nodeArgs, '--expose-gc', '--import', PROBE, cmd, ...args] : args;
  // a chatty process (the tunnel's audit log) writes to a file, so the load client never parses it
  const fd = logFile ? openSync(logFile, 'a') : undefined;
  const out = fd ?? 'pipe';
  const child = spawn(node ? process.execPath : cmd, argv, {
    stdio: node ? ['ignore', out, out, 'ipc'] : ['ignore', out, out],
    env: { ...process.env, ...env },
  });
  if (fd !== undefined) closeSync(fd);
  /** @type {string[]} */
  const lines = [];
  /** @type {Set<(line: string) => void>} */
  const watchers = new Set();
  if (logFile) {
    let seen = 0;
    const poll = setInterval(() => {
      if (watchers.size === 0) return;
      const text = readFileSync(logFile, 'utf8');
      const all = text.split('\n').filter(Boolean);
      for (const line of all.slice(seen)) {
        lines.push(line);
        if (lines.length > keep) lines.shift();
        for (const w of watchers) w(line);
      }
      seen = all.length;
    }, 50);
    poll.unref();
    child.once('exit', () => clearInterval(poll));
  }
  for (const out of logFile ? [] : [child.stdout, child.stderr]) {
    createInterface({ input: out }).on('line', (line) => {
      lines.push(line);
      if (lines.length > keep) lines.shift();
      for (const w of watchers) w(line);
    });
  }
  child.on('error', (err) => lines.push(`spawn error: ${err.message}`));
  if (child.channel) child.channel.unref();
  /** @type {Promise<number | NodeJS.Signals | null>} */
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const proc = {
    name,
    child,
    pid: child.pid,
    /** where its stdout+stderr go, when a file */
    logFile,
    lines,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    /**
     * resolves with the first line matching re (and its match)
     * @param {RegExp} re
     * @returns {Promise<RegExpExecArray>}
     */
    waitLine(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        /** @template T @param {(v: T) => void} fn @param {T} v */
        const done = (fn, v) => (watchers.delete(w), clearTimeout(t), fn(v));
        /** @param {string} line */
        const w = (line) => {
          const m = re.exec(line);
          if (m) done(resolve, m);
        };
        for (const l of lines) {
          const m = re.exec(l);
          if (m) return resolve(m);
        }
        watchers.add(w);
        const t = setTimeout(() => done(reject, new Error(`${name}: no line like ${re} within ${timeoutMs} ms; last output:\n${lines.join('\n')}`)), timeoutMs);
        exited.then((code) => done(reject, new Error(`${name} exited (${code}) before ${re}; last output:\n${lines.join('\n')}`)));
      });
    },
    /**
     * next IPC message (Node children only); its shape is the child's (each helper documents its own)
     * @returns {Promise<any>}
     */
    message(timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${name}: no IPC message within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
        child.once('message', (m) => (clearTimeout(t), resolve(m)));
      });
    },
    /**
     * heap and external (Node only), RSS and fds; gc first when asked; then a heap snapshot to `snapshot` (a path) when given;
     * event-loop delay max / p99 since the last `eldReset` (Node only)
     * @param {string | undefined} [snapshot]
     * @returns {Promise<ProbeSample | undefined>}
     */
    async probe(gc = true, snapshot = undefined, eldReset = false) {
      if (!proc.alive()) return undefined;
      if (node && child.connected) {
        const id = ++probeSeq;
        /** @type {Promise<(ProbeSample & { perfProbe: number }) | undefined>} */
        const reply = new Promise((resolve) => {
          /** @param {any} m an IPC message of any shape (the child's own messages pass here too) */
          const on = (m) => m?.perfProbe === id && (child.off('message', on), resolve(m));
          child.on('message', on);
          setTimeout(() => (child.off('message', on), resolve(undefined)), snapshot ? 300_000 : 60_000);
        });
        child.send({ perfProbe: id, gc, snapshot, eldReset });
        const m = await reply;
        if (m) return { heapUsed: m.heapUsed, external: m.external, rss: m.rss, fds: m.fds, eldMaxMs: m.eldMaxMs, eldP99Ms: m.eldP99Ms };
      }
      return { heapUsed: undefined, ...procStats(child.pid) };
    },
    async stop(graceMs = 3_000) {
      if (!proc.alive()) return exited;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  return proc;
}

/**
 * RSS and fd count of any process from /proc
 * @param {number | undefined} pid
 * @returns {{ rss: number | undefined, fds: number | undefined }}
 */
export function procStats(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    return { rss, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rss: undefined, fds: undefined };
  }
}
