import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { WebSocket } from 'ws';
import { Channel, exitCodeStatus, internalErrorStatus, successStatus } from './channel.js';
import type { Status } from './channel.js';
import type { ContainerRef, KubeletContext } from './context.js';
import { StreamSession } from './stream-session.js';
import type { StreamOptions } from './stream-session.js';

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

/** Starts the command; with tty, stderr joins stdout in the same pipe, in order, as on a terminal. */
function spawnCommand(ctx: KubeletContext, ref: ContainerRef, options: StreamOptions): ChildProcess {
  const argv = options.tty ? ['sh', '-c', 'exec "$@" 2>&1', 'sh', ...options.command] : options.command;
  const [file, ...args] = argv as [string, ...string[]];
  return spawn(file, args, {
    cwd: ctx.workDir,
    env: containerEnv(ctx, ref, options.tty),
    stdio: [
      options.stdin ? 'pipe' : 'ignore',
      options.stdout ? 'pipe' : 'ignore',
      options.stderr && !options.tty ? 'pipe' : 'ignore',
    ],
  });
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
  const child = spawnCommand(ctx, ref, options);
  ctx.execsStarted += 1;
  ctx.children.add(child);
  ctx.events.emit('exec-start', base);

  const session = new StreamSession(ws, protocol, {
    stdin: (data) => child.stdin && session.writeInput(child.stdin, data),
    closeStdin: () => child.stdin?.end(),
    resize: () => undefined, // the process has pipes, not a terminal: nothing to resize
  });
  child.stdin?.on('error', () => undefined); // EPIPE when the process exits before reading stdin
  if (child.stdout) session.pipeOutput(child.stdout, Channel.stdout);
  if (child.stderr) session.pipeOutput(child.stderr, Channel.stderr);
  session.announce(options);

  let spawnError: Error | undefined;
  let clientClosed = false;
  child.on('error', (err) => (spawnError = err));
  ws.on('close', () => {
    clientClosed = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.on('close', (code, signal) => {
    ctx.children.delete(child);
    const exitCode = exitCodeOf(code, signal);
    session.finish(finalStatus(options.command, exitCode, spawnError));
    const reason: ExecEndReason = spawnError ? 'spawn-failed' : clientClosed ? 'client-closed' : 'exited';
    const { bytesIn, bytesOut } = session;
    const event: ExecEvent = { ...base, reason, exitCode, durationMs: Date.now() - started, bytesIn, bytesOut };
    ctx.events.emit('exec-end', event);
  });
}
