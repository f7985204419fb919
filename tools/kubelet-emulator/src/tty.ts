import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import type { ExecProcess } from './exec.js';

/** The pseudo-terminal relay (the same path from src/ under tap and from dist/). */
export const TTY_RELAY = fileURLToPath(new URL('../helpers/tty-relay.py', import.meta.url));

/** The system's interpreter if any: a PATH lookup may find a version manager's shim (pyenv's costs ~1 s). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/** Isolated (no PYTHON* variables, no user site), without `site`: the relay needs only the standard library. */
const PYTHON_FLAGS = ['-I', '-S'];
/** The relay's descriptor for window sizes ("ROWS COLS\n" lines). */
const SIZE_FD = 3;
/** struct winsize holds unsigned shorts. */
const MAX_DIMENSION = 0xffff;

/**
 * Runs `command` on a new pseudo-terminal through python3's pty (no native modules): stdout and
 * stderr share the terminal, stdin is typed on it, resizes reach the foreground process as
 * SIGWINCH. The command starts once the first size has arrived (or after a second without one).
 */
export function spawnOnTty(command: string[], stdin: boolean, stdout: boolean, options: SpawnOptions): ExecProcess {
  const args = [...PYTHON_FLAGS, TTY_RELAY, ...(stdin ? ['--stdin'] : []), '--', ...command];
  const child = spawn(PYTHON, args, {
    ...options,
    stdio: [stdin ? 'pipe' : 'ignore', stdout ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const sizes = child.stdio[SIZE_FD] as Writable;
  sizes.on('error', () => undefined); // EPIPE once the relay has exited
  let relayError = '';
  let spawnError: Error | undefined;
  child.stderr?.on('data', (chunk: Buffer) => (relayError += chunk.toString('utf8')));
  child.on('error', (err) => (spawnError = err));
  const clamp = (n: number): number => Math.min(Math.max(n, 0), MAX_DIMENSION);
  return {
    child,
    resize: (width, height) => void sizes.write(`${clamp(height)} ${clamp(width)}\n`),
    startError: () => spawnError ?? (relayError ? new Error(relayError.trim()) : undefined),
  };
}
