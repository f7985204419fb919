import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { encodeEntry, parseEntry } from './log-format.js';
import type { LogEntry, LogStream } from './log-format.js';
import type { Pod } from './pods.js';

/**
 * The container log files of one node, laid out like /var/log/pods:
 * `<dir>/<namespace>_<pod>_<uid>/<container>/0.log`. Writes are synchronous appends, so a line
 * passed to append() is in the file when append() returns.
 */
export class LogStore {
  readonly #lineCounts = new Map<string, number>();
  readonly #listeners = new Map<string, Set<() => void>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    readonly nodeName: string,
    readonly pods: readonly Pod[],
  ) {
    for (const pod of pods) {
      for (const container of pod.containers) {
        mkdirSync(join(this.pathOf(pod, container), '..'), { recursive: true });
      }
    }
  }

  pathOf(pod: Pod, container: string): string {
    return join(this.dir, `${pod.namespace}_${pod.name}_${pod.uid}`, container, '0.log');
  }

  /** Appends one entry per line of `text` and wakes the followers of that file. */
  append(pod: Pod, container: string, text: string, stream: LogStream = 'stdout'): void {
    const path = this.pathOf(pod, container);
    const now = new Date();
    const lines = text.replace(/\n$/, '').split('\n');
    appendFileSync(path, lines.map((line) => encodeEntry(now, stream, line)).join(''));
    for (const wake of this.#listeners.get(path) ?? []) wake();
  }

  /** Writes the next generated line to every container's file. */
  tick(): void {
    for (const pod of this.pods) {
      for (const container of pod.containers) {
        const key = `${pod.namespace}/${pod.name}/${container}`;
        const n = (this.#lineCounts.get(key) ?? 0) + 1;
        this.#lineCounts.set(key, n);
        const line = `${new Date().toISOString()} ${this.nodeName}/${pod.name}/${container} line ${n}`;
        this.append(pod, container, line);
      }
    }
  }

  /** Writes line 1 now, then one line every intervalMs (0: only line 1). */
  start(intervalMs: number): void {
    this.tick();
    if (intervalMs > 0) this.#timer = setInterval(() => this.tick(), intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Calls `wake` after each in-process append to `path`; returns the unsubscribe function. */
  onAppend(path: string, wake: () => void): () => void {
    let set = this.#listeners.get(path);
    if (!set) this.#listeners.set(path, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0) this.#listeners.delete(path);
    };
  }
}

/** Reads the complete lines appended to a log file since the previous read. */
export class LogCursor {
  #offset = 0;
  #rest: Buffer = Buffer.alloc(0);

  constructor(readonly path: string) {}

  read(): LogEntry[] {
    const chunk = this.#readNewBytes();
    if (chunk.length === 0) return [];
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    const end = data.lastIndexOf(0x0a);
    if (end < 0) {
      this.#rest = data;
      return [];
    }
    this.#rest = Buffer.from(data.subarray(end + 1));
    return data.toString('utf8', 0, end).split('\n').map(parseEntry);
  }

  #readNewBytes(): Buffer {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return Buffer.alloc(0);
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.#offset) {
        // Truncated or replaced: start over, as `tail -F` does.
        this.#offset = 0;
        this.#rest = Buffer.alloc(0);
      }
      const buf = Buffer.alloc(size - this.#offset);
      const n = buf.length > 0 ? readSync(fd, buf, 0, buf.length, this.#offset) : 0;
      this.#offset += n;
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }
}
