// The I/O edge: runs iptables-save/-restore and conntrack as child processes.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** What a finished command returned. `code` 127 means the command is not installed. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command; resolves (never rejects) with its exit code and output. */
export interface IptablesRunner {
  run(cmd: string, args: string[], stdin?: string): Promise<RunResult>;
}

/** Exit code of a command that could not be found (as in a shell). */
export const COMMAND_NOT_FOUND = 127;
/** Exit code of a command killed after `timeoutMs` (as coreutils `timeout`). */
export const COMMAND_TIMED_OUT = 124;

export interface RunnerOptions {
  /** run every command inside this network namespace (`ip netns exec <netns> …`); for tests */
  netns?: string;
  /** kill a command still running after this long (default 30 000 ms) */
  timeoutMs?: number;
}

/** The default runner: `child_process.spawn` without a shell. */
export function createRunner(options: RunnerOptions = {}): IptablesRunner {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    run(cmd, args, stdin) {
      const [file, argv] = options.netns === undefined ? [cmd, args] : ['ip', ['netns', 'exec', options.netns, cmd, ...args]];
      return spawnCollect(file, argv, stdin, timeoutMs, options.netns !== undefined);
    },
  };
}

function spawnCollect(file: string, argv: string[], stdin: string | undefined, timeoutMs: number, viaNetns: boolean) {
  return new Promise<RunResult>((resolve) => {
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const finish = (result: RunResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code === 'ENOENT' ? COMMAND_NOT_FOUND : 1;
      finish({ code, stdout: '', stderr: `${file}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      let stderr = Buffer.concat(err).toString('utf8');
      let exit = code ?? 128 + (signal === null ? 0 : constants.signals[signal]);
      if (timedOut) {
        exit = COMMAND_TIMED_OUT;
        stderr += `${file}: killed after ${timeoutMs} ms`;
      } else if (viaNetns && exit !== 0 && /^exec of ".*" failed: No such file or directory/m.test(stderr)) {
        exit = COMMAND_NOT_FOUND; // `ip netns exec` could not find the command
      }
      finish({ code: exit, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // EPIPE when the command exits without reading: its exit code tells
    child.stdin.end(stdin ?? '');
  });
}
