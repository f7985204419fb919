import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { WebSocket } from 'ws';
import { Channel, exitCodeStatus, internalErrorStatus, successStatus } from './channel.js';
import type { Status } from './channel.js';
import type { ContainerRef, KubeletContext } from './context.js';
import { StreamSession } from './stream-session.js';
import type { StreamOptions } from './stream-session.js';
import { spawnOnTty } from './tty.js';

/** Why an exec ended, as given in the 'exec-end' event. */
export type ExecEndReason = 'exited' | 'client-closed' | 'spawn-failed';

export interface ExecEvent extends ContainerRef {
  command: string[];
  protocol: string;
  tty: boolean;
  reason?: ExecEndReason;
  exitCode?: number;
  durationMs?: number;
  bytesIn?: number;
  bytesOut?: number;
}

/** The environment of exec and attach processes: nothing inherited but PATH. */
export function containerEnv(ctx: KubeletContext, ref: ContainerRef, tty: boolean): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: ctx.workDir,
    HOSTNAME: ref.pod,
    POD_NAMESPACE: ref.namespace,
    NODE_NAME: ctx.options.nodeName,
    ...(tty ? { TERM: 'xterm' } : {}),
  };
}

/** A started exec command, on a pseudo-terminal (tty.ts) or on pipes. */
export interface ExecProcess {
  child: ChildProcess;
  /** Applies a client's window size; nothing to do on pipes. */
  resize(width: number, height: number): void;
  /** Why the command could not be started, known once the child has closed. */
  startError(): Error | undefined;
}

/** Starts the command on a pseudo-terminal (tty) or on pipes. */
function spawnCommand(ctx: KubeletContext, ref: ContainerRef, options: StreamOptions): ExecProcess {
  const spawnOptions = { cwd: ctx.workDir, env: containerEnv(ctx, ref, options.tty) };
  if (options.tty) return spawnOnTty(options.command, options.stdin, options.stdout, spawnOptions);
  const [file, ...args] = options.command as [string, ...string[]];
  const child = spawn(file, args, {
    ...spawnOptions,
    stdio: [options.stdin ? 'pipe' : 'ignore', options.stdout ? 'pipe' : 'ignore', options.stderr ? 'pipe' : 'ignore'],
  });
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  return { child, resize: () => undefined, startError: () => spawnError };
}

/** The exit code the kubelet reports: the process's, or 128 + signal number when it was killed. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal ? constants.signals[signal] : 0);
}

function finalStatus(command: string[], exitCode: number, spawnError: Error | undefined): Status {
  if (spawnError) return internalErrorStatus(`error executing command [${command.join(' ')}]: ${spawnError.message}`);
  return exitCode === 0 ? successStatus() : exitCodeStatus(command, exitCode);
}

/** Runs one exec command as a real child process bound to the WebSocket. */
export function runExec(ctx: KubeletContext, ws: WebSocket, protocol: string, ref: ContainerRef, options: StreamOptions): void {
  const started = Date.now();
  const base: ExecEvent = { ...ref, command: options.command, protocol, tty: options.tty };
  const { child, resize, startError } = spawnCommand(ctx, ref, options);
  ctx.execsStarted += 1;
  ctx.children.add(child);
  ctx.events.emit('exec-start', base);

  const session = new StreamSession(ws, protocol, {
    stdin: (data) => child.stdin && session.writeInput(child.stdin, data),
    closeStdin: () => child.stdin?.end(),
    resize,
  });
  child.stdin?.on('error', () => undefined); // EPIPE when the process exits before reading stdin
  if (child.stdout) session.pipeOutput(child.stdout, Channel.stdout);
  if (child.stderr && !options.tty) session.pipeOutput(child.stderr, Channel.stderr);
  session.announce(options);

  let clientClosed = false;
  ws.on('close', () => {
    clientClosed = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.on('close', (code, signal) => {
    ctx.children.delete(child);
    const exitCode = exitCodeOf(code, signal);
    const spawnError = startError();
    session.finish(finalStatus(options.command, exitCode, spawnError));
    const reason: ExecEndReason = spawnError ? 'spawn-failed' : clientClosed ? 'client-closed' : 'exited';
    const { bytesIn, bytesOut } = session;
    const event: ExecEvent = { ...base, reason, exitCode, durationMs: Date.now() - started, bytesIn, bytesOut };
    ctx.events.emit('exec-end', event);
  });
}
