// Running the real kubectl binary against a kubeconfig: buffered (execFile-like, with optional
// stdin) or spawned for streaming, in a network namespace when given (`ip netns exec <ns> kubectl …`).
// The environment is minimal so a developer's config never leaks in.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { nsArgv } from '../netns/exec.js';

/** Where the machine image installs kubectl (toolchain.md). */
export const KUBECTL_PATH = '/usr/bin/kubectl';

export interface KubectlResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  durationMs: number;
}

export interface KubectlRunOptions {
  /** Written to kubectl's stdin, then stdin is closed. Default: stdin closed at once. */
  input?: Buffer | string;
  /** Killed with SIGKILL after this (the result then has signal SIGKILL). Default 30 000. */
  timeoutMs?: number;
}

/** Undefined when kubectl can run here, else the reason it cannot (for tap's `skip`). */
export function kubectlMissing(path = KUBECTL_PATH): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    return `${path} is not installed (the kubectl end-to-end tests need the real binary)`;
  }
}

export class Kubectl {
  constructor(
    readonly kubeconfig: string,
    /** HOME and the discovery cache live here. */
    readonly homeDir: string,
    /** the network namespace kubectl runs in (undefined: this process's) */
    readonly ns?: string,
    readonly path = KUBECTL_PATH,
  ) {}

  /** Arguments kubectl always gets: the kubeconfig and a private cache dir. */
  baseArgs(): string[] {
    return ['--kubeconfig', this.kubeconfig, '--cache-dir', join(this.homeDir, 'cache')];
  }

  env(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.homeDir, KUBECONFIG: this.kubeconfig };
  }

  /** Start kubectl with piped stdio. */
  spawn(args: readonly string[]): ChildProcess {
    return this.#spawnInNs(this.path, [...this.baseArgs(), ...args]);
  }

  /** Start kubectl under script(1), so that it has a terminal (`exec -it`). */
  spawnWithTty(args: readonly string[]): ChildProcess {
    return this.#spawnInNs('script', ['-qec', this.commandLine(args), '/dev/null']);
  }

  /** A shell command line running kubectl with this config, inside kubectl's namespace (for `script -qec …`). */
  commandLine(args: readonly string[]): string {
    return [this.path, ...this.baseArgs(), ...args].map(shellQuote).join(' ');
  }

  /** The command an operator types for `args` in a shell of this machine (as `npm start` prints it). */
  printable(args: readonly string[]): string {
    const [file, argv] = nsArgv(this.ns, 'kubectl', ['--kubeconfig', this.kubeconfig, ...args]);
    return [file, ...argv].map(shellQuote).join(' ');
  }

  #spawnInNs(cmd: string, args: readonly string[]): ChildProcess {
    const [file, argv] = nsArgv(this.ns, cmd, args);
    return spawn(file, argv, { env: this.env(), stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Run kubectl to completion. */
  run(args: readonly string[], options: KubectlRunOptions = {}): Promise<KubectlResult> {
    return collect(this.spawn(args), options);
  }
}

/** Collect a child's output; stdin gets `input` (or is closed); SIGKILL after the timeout. */
export function collect(child: ChildProcess, options: KubectlRunOptions = {}): Promise<KubectlResult> {
  const started = Date.now();
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => stdout.push(c));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdin?.on('error', () => undefined);
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr, durationMs: Date.now() - started });
    });
  });
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
