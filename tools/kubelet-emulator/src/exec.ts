import { spawn } from 'node:child_process';
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

/** Runs one exec command as a real child process bound to the WebSocket. */
export function runExec(ctx: KubeletContext, ws: WebSocket, protocol: string, ref: ContainerRef, options: StreamOptions): void {
  const started = Date.now();
  const base: ExecEvent = { ...ref, command: options.command, protocol, tty: options.tty };
  const [file, ...args] = options.command as [string, ...string[]];
  const child = spawn(file, args, {
    cwd: ctx.workDir,
    env: containerEnv(ctx, ref, options.tty),
    stdio: [
      options.stdin ? 'pipe' : 'ignore',
      options.stdout ? 'pipe' : 'ignore',
      (options.tty ? options.stdout : options.stderr) ? 'pipe' : 'ignore',
    ],
  });
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
  if (child.stderr) session.pipeOutput(child.stderr, options.tty ? Channel.stdout : Channel.stderr);
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
    const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
    const status: Status = spawnError
      ? internalErrorStatus(`error executing command [${options.command.join(' ')}]: ${spawnError.message}`)
      : exitCode === 0
        ? successStatus()
        : exitCodeStatus(options.command, exitCode);
    session.finish(status);
    const reason: ExecEndReason = spawnError ? 'spawn-failed' : clientClosed ? 'client-closed' : 'exited';
    const event: ExecEvent = {
      ...base,
      reason,
      exitCode,
      durationMs: Date.now() - started,
      bytesIn: session.bytesIn,
      bytesOut: session.bytesOut,
    };
    ctx.events.emit('exec-end', event);
  });
}
