import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { WebSocket } from 'ws';
import { Channel, exitCodeStatus, successStatus } from './channel.js';
import type { ContainerRef, KubeletContext } from './context.js';
import { containerEnv, exitCodeOf } from './exec.js';
import { StreamSession } from './stream-session.js';
import type { StreamOptions } from './stream-session.js';

/** The process each container "runs" for attach: it echoes stdin to stdout. */
export const ATTACH_COMMAND = ['cat'] as const;

interface Attachment {
  session: StreamSession;
  options: StreamOptions;
  stdinOpen: boolean;
}

interface ContainerProcess {
  child: ChildProcess;
  attachments: Set<Attachment>;
}

/**
 * One long-running process per container, started by the first attach and shared by all later
 * ones: every attached client's stdin goes to it, its output goes to every attached client.
 * Detaching leaves it running; close() kills it.
 */
export class AttachRegistry {
  readonly #processes = new Map<string, ContainerProcess>();

  attach(ctx: KubeletContext, ws: WebSocket, protocol: string, ref: ContainerRef, options: StreamOptions): void {
    const proc = this.#processFor(ctx, ref);
    const attachment: Attachment = {
      options,
      stdinOpen: options.stdin,
      session: new StreamSession(ws, protocol, {
        stdin: (data) => attachment.stdinOpen && proc.child.stdin && attachment.session.writeInput(proc.child.stdin, data),
        // The process is shared: one client closing its stdin only stops that client's input.
        closeStdin: () => (attachment.stdinOpen = false),
        resize: () => undefined,
      }),
    };
    proc.attachments.add(attachment);
    ws.on('close', () => proc.attachments.delete(attachment));
    attachment.session.announce(options);
  }

  /** Number of running per-container processes. */
  get size(): number {
    return this.#processes.size;
  }

  close(): void {
    for (const proc of this.#processes.values()) proc.child.kill('SIGKILL');
    this.#processes.clear();
  }

  #processFor(ctx: KubeletContext, ref: ContainerRef): ContainerProcess {
    const key = `${ref.namespace}/${ref.pod}/${ref.container}`;
    const existing = this.#processes.get(key);
    if (existing) return existing;
    const [file, ...args] = ATTACH_COMMAND;
    const child = spawn(file, args, { cwd: ctx.workDir, env: containerEnv(ctx, ref, false), stdio: 'pipe' });
    const proc: ContainerProcess = { child, attachments: new Set() };
    this.#processes.set(key, proc);
    child.stdin.on('error', () => undefined);
    child.on('error', () => undefined); // reported through 'close' below
    child.stdout.on('data', (chunk: Buffer) => this.#broadcast(proc, Channel.stdout, chunk));
    child.stderr.on('data', (chunk: Buffer) => this.#broadcast(proc, Channel.stderr, chunk));
    child.on('close', (code, signal) => {
      if (this.#processes.get(key) === proc) this.#processes.delete(key);
      const exitCode = exitCodeOf(code, signal);
      const status = exitCode === 0 ? successStatus() : exitCodeStatus(ATTACH_COMMAND, exitCode);
      for (const a of proc.attachments) a.session.finish(status);
    });
    return proc;
  }

  #broadcast(proc: ContainerProcess, channel: number, chunk: Buffer): void {
    for (const a of proc.attachments) {
      const wanted = channel === Channel.stdout ? a.options.stdout : a.options.stderr || a.options.tty;
      if (wanted) a.session.send(a.options.tty ? Channel.stdout : channel, chunk);
    }
  }
}
