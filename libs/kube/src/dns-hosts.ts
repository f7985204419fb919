// Capture mode 2 (cluster DNS): the leader keeps ConfigMap kube-system/edge-tunnel-nodes holding
// hosts-file lines `<internal Service IP>\t<edge node name>` for CoreDNS's `hosts` plugin, and keeps the
// internal Service's ports in step with the configured custom ports. Only the leader writes.
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { PortConfig } from '@edge-tunnel/dnat';
import { Backoff } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { KubeError, KubeErrorCode, apiError, describeApiError, isNotFound } from './errors.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';
import { publishableNames } from './dns-names.js';
import type { RefusedName } from './dns-names.js';
import { desiredServicePorts, hostsText, samePorts } from './service-ports.js';

/** What the writer needs of a LeaderElector. */
export interface LeaderSignal {
  readonly isLeader: boolean;
  on(event: 'leading' | 'stopped-leading', listener: () => void): unknown;
  off(event: 'leading' | 'stopped-leading', listener: () => void): unknown;
}

export interface DnsHostsOptions {
  /** Default `kube-system`. */
  namespace?: string;
  /** Default `edge-tunnel-nodes`. */
  configMapName?: string;
  /** Data key of the hosts lines; default `tunnel-nodes`. */
  key?: string;
  /** The internal Service; default `edge-tunnel-server-internal`. */
  serviceName?: string;
  /** Write only while this says leading; without it the writer always writes. */
  leader?: LeaderSignal;
  /** Names equal to or inside it are never published (they would shadow cluster names); default `cluster.local`. */
  clusterDomain?: string;
  /** Periodic rewrite check while leading (repairs hand edits, follows a new clusterIP); default 60 000 ms. */
  resyncMs?: number;
  /** Retry after a failed write; defaults 500 ms doubling to 30 s. */
  backoff?: BackoffOptions;
  logger?: Logger;
}

export class DnsHostsWriter {
  readonly #core: CoreV1Api;
  readonly #ns: string;
  readonly #cmName: string;
  readonly #key: string;
  readonly #svcName: string;
  readonly #leader: LeaderSignal | undefined;
  readonly #resyncMs: number;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  readonly #clusterDomain: string | undefined;
  #nodes: string[] | undefined;
  #refused: RefusedName[] = [];
  #ports: PortConfig | undefined;
  #started = false;
  #running: Promise<void> | undefined;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #writes = 0;
  readonly #onLeading = (): void => this.#kick();
  readonly #onStopped = (): void => this.#clearTimer();

  constructor(kc: KubeConfig, opts: DnsHostsOptions = {}) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#ns = opts.namespace ?? 'kube-system';
    this.#cmName = opts.configMapName ?? 'edge-tunnel-nodes';
    this.#key = opts.key ?? 'tunnel-nodes';
    this.#svcName = opts.serviceName ?? 'edge-tunnel-server-internal';
    this.#leader = opts.leader;
    this.#clusterDomain = opts.clusterDomain;
    this.#resyncMs = opts.resyncMs ?? 60_000;
    this.#backoff = new Backoff(opts.backoff);
    this.#log = opts.logger ?? silentLogger;
  }

  /** The edge nodes to publish; nothing is written for hosts until this was called once. Names that
   * would shadow cluster names (dns-names.ts) are left out, each with a warn line when first refused. */
  setNodes(nodes: readonly { name: string }[]): void {
    const { names, refused } = publishableNames(
      nodes.map((n) => n.name),
      this.#clusterDomain,
    );
    const known = new Set(this.#refused.map((r) => r.nodeName));
    for (const r of refused) {
      if (!known.has(r.nodeName)) this.#log.warn({ nodeName: r.nodeName, code: r.code, reason: r.reason }, 'node name not published in dns hosts');
    }
    this.#refused = refused;
    this.#nodes = names;
    this.#kick();
  }

  /** Node names left out of the hosts file, and why (for /debug). */
  get refused(): readonly RefusedName[] {
    return this.#refused;
  }

  /** The port config whose custom ports the Service must carry; the Service is untouched until set. */
  setPortConfig(config: PortConfig): void {
    this.#ports = config;
    this.#kick();
  }

  start(): this {
    if (this.#started) return this;
    this.#started = true;
    this.#leader?.on('leading', this.#onLeading);
    this.#leader?.on('stopped-leading', this.#onStopped);
    this.#kick();
    return this;
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#leader?.off('leading', this.#onLeading);
    this.#leader?.off('stopped-leading', this.#onStopped);
    this.#clearTimer();
    await this.#running;
  }

  /** Writes (ConfigMap creates/updates and Service patches) done so far. */
  get writes(): number {
    return this.#writes;
  }

  get #active(): boolean {
    return this.#started && (this.#leader?.isLeader ?? true);
  }

  /** One pass: read the Service, then write what differs. Throws KubeError on failure. */
  async sync(): Promise<void> {
    const svc = await this.#readService();
    if (this.#nodes !== undefined) await this.#writeHosts(svc, this.#nodes);
    if (this.#ports !== undefined) await this.#writePorts(svc, this.#ports);
  }

  #kick(): void {
    if (!this.#active) return;
    this.#dirty = true;
    this.#clearTimer();
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  async #drain(): Promise<void> {
    let failed = false;
    while (this.#dirty && this.#active) {
      this.#dirty = false;
      try {
        await this.sync();
        this.#backoff.reset();
        failed = false;
      } catch (err) {
        failed = true;
        this.#log.warn({ configMap: `${this.#ns}/${this.#cmName}`, err: describeApiError(err) }, 'dns hosts sync failed');
      }
    }
    if (this.#active) this.#schedule(failed ? this.#backoff.next() : this.#resyncMs);
  }

  #schedule(ms: number): void {
    this.#clearTimer();
    this.#timer = setTimeout(() => this.#kick(), ms);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #readService(): Promise<V1Service> {
    try {
      return await this.#core.readNamespacedService({ namespace: this.#ns, name: this.#svcName });
    } catch (err) {
      throw apiError(`read Service ${this.#ns}/${this.#svcName}`, err);
    }
  }

  async #writeHosts(svc: V1Service, nodes: string[]): Promise<void> {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === 'None') {
      throw new KubeError(KubeErrorCode.API, `Service ${this.#ns}/${this.#svcName} has no clusterIP; it must be a ClusterIP Service`);
    }
    const text = hostsText(ip, nodes);
    let cm: V1ConfigMap | undefined;
    try {
      cm = await this.#core.readNamespacedConfigMap({ namespace: this.#ns, name: this.#cmName });
    } catch (err) {
      if (!isNotFound(err)) throw apiError(`read ConfigMap ${this.#ns}/${this.#cmName}`, err);
    }
    if (cm?.data?.[this.#key] === text) return;
    try {
      if (cm) {
        cm.data = { ...cm.data, [this.#key]: text };
        await this.#core.replaceNamespacedConfigMap({ namespace: this.#ns, name: this.#cmName, body: cm });
      } else {
        const body: V1ConfigMap = {
          metadata: { name: this.#cmName, namespace: this.#ns, labels: { 'app.kubernetes.io/managed-by': 'edge-tunnel-server' } },
          data: { [this.#key]: text },
        };
        await this.#core.createNamespacedConfigMap({ namespace: this.#ns, body });
      }
    } catch (err) {
      throw apiError(`write ConfigMap ${this.#ns}/${this.#cmName}`, err);
    }
    this.#writes++;
    this.#log.info({ configMap: `${this.#ns}/${this.#cmName}`, nodes: nodes.length, serviceIp: ip }, 'dns hosts written');
  }

  async #writePorts(svc: V1Service, config: PortConfig): Promise<void> {
    const current: V1ServicePort[] = svc.spec?.ports ?? [];
    const desired = desiredServicePorts(current, config);
    if (samePorts(current, desired)) return;
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: svc.metadata?.resourceVersion },
      { op: 'add', path: '/spec/ports', value: desired },
    ];
    try {
      await this.#core.patchNamespacedService({ namespace: this.#ns, name: this.#svcName, body }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
    } catch (err) {
      throw apiError(`patch Service ${this.#ns}/${this.#svcName} ports`, err);
    }
    this.#writes++;
    this.#log.info({ service: `${this.#ns}/${this.#svcName}`, ports: desired.map((p) => p.port) }, 'internal service ports updated');
  }
}
