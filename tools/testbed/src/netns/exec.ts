// Runs commands inside a network namespace (`ip netns exec`) or, with no namespace, directly.
import { execFile, execFileSync } from 'node:child_process';

export interface ExecResult {
  /** exit code; 127 when the command does not exist, 124 when killed after the timeout */
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** argv that runs `cmd args` in `ns` (undefined or '' = the caller's own namespace). */
export function nsArgv(ns: string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, [...args]];
}

/** Runs a command without a shell; never rejects. */
export function execIn(ns: string | undefined, cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<ExecResult> {
  const [file, argv] = nsArgv(ns, cmd, args);
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(file, argv, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const durationMs = performance.now() - started;
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      const code = e === null ? 0 : e.killed ? 124 : e.code === 'ENOENT' ? 127 : typeof e.code === 'number' ? e.code : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), durationMs });
    });
  });
}

/** Like execIn, but throws with the command and its stderr when it fails. */
export async function mustExec(ns: string | undefined, cmd: string, args: readonly string[]): Promise<string> {
  const res = await execIn(ns, cmd, args);
  if (res.code !== 0) {
    throw new Error(`testbed: \`${[cmd, ...args].join(' ')}\`${ns ? ` in ${ns}` : ''} exited ${res.code}: ${res.stderr.trim()}`);
  }
  return res.stdout;
}

/** `ip netns list` names (without the `(id: n)` suffix). */
export async function listNamespaces(): Promise<string[]> {
  const res = await execIn(undefined, 'ip', ['netns', 'list']);
  return res.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.length > 0);
}

/** Synchronous best-effort `ip netns del` for process-exit handlers. */
export function deleteNamespacesSync(names: readonly string[]): void {
  for (const ns of names) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
