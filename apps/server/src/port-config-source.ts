// Where the port configuration comes from. Standalone mode: a YAML or JSON file with the ConfigMap's
// keys (flat, or a ConfigMap object with `data:`), watched with fs.watch on its directory plus a
// periodic stat fallback, debounced. A Kubernetes ConfigMap source can implement the same interface.
import { EventEmitter } from 'node:events';
import { readFileSync, statSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { EMPTY_PORT_CONFIG, parsePortConfig } from '@edge-tunnel/dnat';
import type { PortConfig, RejectedEntry } from '@edge-tunnel/dnat';
import { parse as parseYaml } from 'yaml';
import { ServerError, ServerErrorCode } from './errors.js';
import type { Logger } from './logger.js';

/** The active port config and the entries that were rejected, with where it came from. */
export interface PortConfigState {
  config: PortConfig;
  rejected: readonly RejectedEntry[];
  /** e.g. `file /etc/edge-tunnel/ports.yaml`, `configmap kube-system/edge-tunnel-server-cfg` or `static` */
  source: string;
  /** the ConfigMap's resourceVersion applied (ConfigMap sources only) */
  resourceVersion?: string;
  loadedAt: Date;
  /** the last load that failed (the config above is the last good one) */
  lastError?: string;
}

/** A source of port config. Emits 'change' (state) whenever the active config or rejections change. */
export interface PortConfigSource {
  current(): PortConfigState;
  on(event: 'change', listener: (state: PortConfigState) => void): this;
  off(event: 'change', listener: (state: PortConfigState) => void): this;
  close(): void;
}

/** A fixed config (no file): only built-ins unless data is given. */
export class StaticPortConfigSource extends EventEmitter implements PortConfigSource {
  readonly #state: PortConfigState;
  constructor(data: Record<string, unknown> = {}) {
    super();
    const { config, rejected } = data ? parsePortConfig(data as Record<string, string>) : { config: EMPTY_PORT_CONFIG, rejected: [] };
    this.#state = { config, rejected, source: 'static', loadedAt: new Date() };
  }
  current(): PortConfigState {
    return this.#state;
  }
  close(): void {}
}

/** Parses file text (YAML or JSON) into ConfigMap data; throws with a sentence on bad input. */
export function parseConfigText(text: string): Record<string, unknown> {
  const doc: unknown = parseYaml(text);
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the file must hold a map of ConfigMap keys');
  const obj = doc as Record<string, unknown>;
  if (obj['kind'] === 'ConfigMap' || ('data' in obj && typeof obj['data'] === 'object')) {
    const data = obj['data'] ?? {};
    if (typeof data !== 'object' || Array.isArray(data)) throw new Error('data: must be a map of ConfigMap keys');
    return data as Record<string, unknown>;
  }
  return obj;
}

export interface FileSourceOptions {
  /** stat fallback period (fs.watch misses changes on some filesystems): --config-poll-ms */
  pollMs: number;
  /** quiet time before a change is read, default 100 */
  debounceMs?: number;
}

/** The port config file, watched and applied live; a bad file keeps the last good config. */
export class FilePortConfigSource extends EventEmitter implements PortConfigSource {
  readonly #path: string;
  readonly #log: Logger;
  #state: PortConfigState;
  #text: string;
  #stamp = '';
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout;
  #debounce: NodeJS.Timeout | undefined;
  readonly #debounceMs: number;

  /** Reads the file now; throws ERR_SERVER_PORT_CONFIG when it cannot be read or parsed. */
  constructor(path: string, log: Logger, opts: FileSourceOptions) {
    super();
    this.#path = path;
    this.#log = log;
    this.#debounceMs = opts.debounceMs ?? 100;
    try {
      this.#stamp = this.#statStamp();
      this.#text = readFileSync(path, 'utf8');
      this.#state = this.#build(parseConfigText(this.#text));
    } catch (err) {
      throw new ServerError(ServerErrorCode.PORT_CONFIG, `port config file ${path} cannot be used: ${(err as Error).message}`, { cause: err });
    }
    this.#logRejected();
    try {
      this.#watcher = watch(dirname(path), (_event, name) => {
        if (name === null || name === basename(path)) this.#schedule();
      });
      this.#watcher.on('error', () => this.#watcher?.close());
    } catch {
      this.#watcher = undefined; // the stat poll still works
    }
    this.#poll = setInterval(() => {
      if (this.#statStamp() !== this.#stamp) this.#schedule();
    }, opts.pollMs);
    this.#poll.unref();
  }

  current(): PortConfigState {
    return this.#state;
  }

  close(): void {
    this.#watcher?.close();
    clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
  }

  #statStamp(): string {
    try {
      const s = statSync(this.#path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  #schedule(): void {
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => this.#reload(), this.#debounceMs);
    this.#debounce.unref();
  }

  #reload(): void {
    this.#stamp = this.#statStamp();
    let text: string;
    let data: Record<string, unknown>;
    try {
      text = readFileSync(this.#path, 'utf8');
      if (text === this.#text && this.#state.lastError === undefined) return;
      data = parseConfigText(text);
    } catch (err) {
      const reason = (err as Error).message;
      if (this.#state.lastError === reason) return;
      this.#log.error({ file: this.#path, reason }, 'port config file unusable: keeping the last good config');
      this.#state = { ...this.#state, lastError: reason };
      this.emit('change', this.#state);
      return;
    }
    this.#text = text;
    this.#state = this.#build(data);
    this.#log.info({ file: this.#path, rejected: this.#state.rejected.length }, 'port config applied');
    this.#logRejected();
    this.emit('change', this.#state);
  }

  #build(data: Record<string, unknown>): PortConfigState {
    const { config, rejected } = parsePortConfig(data as Record<string, string>);
    return { config, rejected, source: `file ${this.#path}`, loadedAt: new Date() };
  }

  #logRejected(): void {
    for (const r of this.#state.rejected) {
      this.#log.warn({ file: this.#path, key: r.key, entry: r.entry, code: r.code, reason: r.reason }, 'port config entry rejected');
    }
  }
}
