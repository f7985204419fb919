// The capture of the netns mode: an IptablesManager (libs/capture) in the cloud namespace, fed with
// the edge IPs and the port config read from the same file the server reads. It re-reads the file
// every `pollMs` and applies on change, as the server's `--capture iptables` mode would do in a cluster.
import { readFile } from 'node:fs/promises';
import { IptablesManager, createRunner, type CaptureLogger, type CaptureStatus } from '@edge-tunnel/capture';
import { EMPTY_PORT_CONFIG, parsePortConfig, type PortConfig } from '@edge-tunnel/dnat';
import { parse as parseYaml } from 'yaml';

export interface CaptureFollowerOptions {
  netns: string;
  configPath: string;
  nodeIps: readonly string[];
  serverAddress: string;
  httpsPort: number;
  httpPort: number;
  log: (line: string) => void;
  /** how often the config file is re-read; default 200 ms */
  pollMs?: number;
}

/** ConfigMap data from the file text: flat keys, or a ConfigMap object with `data:`. */
export function configData(text: string): Record<string, string> {
  const doc: unknown = parseYaml(text);
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the file must hold a map of ConfigMap keys');
  const obj = doc as Record<string, unknown>;
  const data = (typeof obj['data'] === 'object' && obj['data'] !== null ? obj['data'] : obj) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

function captureLogger(log: (line: string) => void): CaptureLogger {
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => log(`[capture] ${level} ${msg} ${JSON.stringify(obj)}`);
  return { debug: () => undefined, info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

export class CaptureFollower {
  readonly manager: IptablesManager;
  readonly #o: CaptureFollowerOptions;
  #config: PortConfig = EMPTY_PORT_CONFIG;
  #text: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();
  #enabled = false;

  constructor(options: CaptureFollowerOptions) {
    this.#o = options;
    this.manager = new IptablesManager({
      logger: captureLogger(options.log),
      httpsTarget: { ip: options.serverAddress, port: options.httpsPort },
      httpTarget: { ip: options.serverAddress, port: options.httpPort },
      runner: createRunner({ netns: options.netns }),
      resyncIntervalMs: 0,
    });
  }

  /** Installs the rules for the current file and follows it; resolves once the rules are in. */
  async enable(): Promise<void> {
    this.#enabled = true;
    this.#text = undefined;
    await this.#serial(() => this.#check());
    this.#timer ??= setInterval(() => void this.#serial(() => this.#check()), this.#o.pollMs ?? 200);
    this.#timer.unref();
    const error = this.manager.status().lastError;
    if (error) throw new Error(`testbed: capture rules not applied: ${error.message} ${error.stderr}`);
  }

  /** Removes every rule (the edges become unreachable from the cloud) and stops following. */
  async disable(): Promise<void> {
    this.#enabled = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#serial(async () => void (await this.manager.stop()));
  }

  /** The ports captured now, as the manager reports them. */
  status(): CaptureStatus {
    return this.manager.status();
  }

  /** Resolves once the currently written file is applied (one more read of it). */
  sync(): Promise<void> {
    return this.#serial(() => this.#check());
  }

  #serial(job: () => Promise<void>): Promise<void> {
    this.#busy = this.#busy.then(job, job);
    return this.#busy;
  }

  async #check(): Promise<void> {
    if (!this.#enabled) return;
    const text = await readFile(this.#o.configPath, 'utf8').catch(() => '');
    if (text === this.#text) return;
    this.#text = text;
    try {
      const { config, rejected } = parsePortConfig(configData(text));
      for (const r of rejected) this.#o.log(`[capture] WARN port config entry rejected ${JSON.stringify(r)}`);
      this.#config = config;
    } catch (err) {
      this.#o.log(`[capture] ERROR port config unusable, keeping the last good one: ${(err as Error).message}`);
    }
    await this.manager.update([...this.#o.nodeIps], this.#config);
  }
}
