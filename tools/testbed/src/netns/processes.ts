// Long-running processes inside a namespace (`ip netns exec` execs, so the pid is the program's own).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { formatLine } from '@edge-tunnel/lab';
import { nsArgv } from './exec.js';

export interface TestbedProcess {
  name: string;
  /** the namespace it runs in ('' = the caller's) */
  ns: string;
  child: ChildProcess;
  /** resolves with the exit code (or null after a signal) once the process has exited */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited */
  stop(graceMs?: number): Promise<number | null>;
}

export function startIn(
  ns: string | undefined,
  name: string,
  cmd: string,
  args: readonly string[],
  log: (line: string) => void,
  env: Record<string, string> = {},
): TestbedProcess {
  const [file, argv] = nsArgv(ns, cmd, args);
  // `env` is added to the inherited environment (`ip netns exec` passes it on)
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  for (const out of [child.stdout!, child.stderr!]) {
    createInterface({ input: out }).on('line', (line) => log(formatLine(name, line, true)));
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      log(`[${name}] could not start: ${err.message}`);
      resolve(127);
    });
  });
  const stop = async (graceMs = 3_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return { name, ns: ns ?? '', child, exited, stop };
}

/** Polls until `check` returns true, or throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`testbed: timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Like waitFor, but fails at once (naming the process) when `proc` exits first. */
export function unlessExited<T>(proc: TestbedProcess, wait: Promise<T>): Promise<T> {
  const exited = proc.exited.then((code) => {
    throw new Error(`testbed: ${proc.name} exited with code ${code} (see testbed.logs())`);
  });
  exited.catch(() => undefined);
  return Promise.race([wait, exited]);
}
