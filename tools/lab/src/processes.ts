// Runs the server and agents as real processes and turns their pino JSON lines into lab log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LabProcess {
  name: string;
  child: ChildProcess;
  /** resolves with the exit code once the process has exited */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component', 'v']);

/** `HH:MM:SS.mmm [name] LEVEL msg key=value …` for a pino JSON line; other lines pass through. */
export function formatLine(name: string, line: string, pretty: boolean): string {
  if (!pretty || !line.startsWith('{')) return `[${name}] ${line}`;
  try {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const time = new Date(typeof rec.time === 'number' ? rec.time : Date.now()).toISOString().slice(11, 23);
    const fields = Object.entries(rec)
      .filter(([k]) => !SKIP.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${time} [${name}] ${(LEVELS[rec.level as number] ?? 'INFO').padEnd(5)} ${String(rec.msg ?? '')} ${fields}`.trimEnd();
  } catch {
    return `[${name}] ${line}`;
  }
}

export function startProcess(name: string, script: string, args: string[], log: (line: string) => void, pretty: boolean): LabProcess {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const out of [child.stdout!, child.stderr!]) {
    createInterface({ input: out }).on('line', (line) => log(formatLine(name, line, pretty)));
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return { name, child, exited, stop };
}
