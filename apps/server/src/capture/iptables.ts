// iptables capture of both modes: an IptablesManager (@edge-tunnel/capture) fed with edge node IPs
// and the port config, updates serialized, re-applied periodically, rules removed on stop.
import { IptablesManager } from '@edge-tunnel/capture';
import type { CaptureStatus, IptablesRunner } from '@edge-tunnel/capture';
import type { PortConfig } from '@edge-tunnel/dnat';
import type { IpPort } from '../config.js';
import { ServerError, ServerErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';

/** Anything with node IPs: an edge Node of the API, a NodeTable entry. */
export interface HasIps {
  readonly ips: readonly string[];
}

export interface IptablesCapture {
  /** captures every IP of `nodes` on the built-in and configured ports (applied in order, only on change) */
  update(nodes: readonly HasIps[], config: PortConfig): void;
  /** /debug/capture */
  status(): Record<string, unknown>;
  /** waits for queued updates, then removes every rule */
  stop(): Promise<void>;
}

export interface IptablesCaptureOptions {
  httpsTarget: IpPort;
  httpTarget: IpPort;
  /** the manager's drift repair period */
  resyncIntervalMs: number;
  /** every other TCP port of an edge IP to the HTTP listener (`--iptables-other-ports`) */
  otherPorts: boolean;
  runner?: IptablesRunner;
  logger: Logger;
}

export function startIptablesCapture(opts: IptablesCaptureOptions): IptablesCapture {
  const { httpsTarget, httpTarget, resyncIntervalMs, otherPorts, runner, logger } = opts;
  let manager: IptablesManager;
  try {
    manager = new IptablesManager({ logger, httpsTarget, httpTarget, resyncIntervalMs, captureOtherPorts: otherPorts, runner });
  } catch (err) {
    throw new ServerError(
      ServerErrorCode.INVALID_CONFIG,
      `--capture=iptables cannot start: ${(err as Error).message}; ` +
        'set --iptables-https-target and --iptables-http-target to IPv4 ip:port addresses of this host',
      { cause: err },
    );
  }
  let queue: Promise<unknown> = Promise.resolve();
  let stopped = false;
  manager.start();
  logger.info(
    { httpsTarget: `${httpsTarget.ip}:${httpsTarget.port}`, httpTarget: `${httpTarget.ip}:${httpTarget.port}`, resyncIntervalMs, otherPorts },
    'iptables capture started',
  );
  return {
    update(nodes, config) {
      if (stopped) return;
      const ips = nodes.flatMap((n) => n.ips);
      // update() rejects only on bad input (an IP that is no IP); the manager logs apply failures itself
      queue = queue
        .then(() => manager.update(ips, config))
        .catch((err: Error) => {
          logger.error({ code: (err as { code?: string }).code, err: err.message }, 'iptables capture update refused');
        });
    },
    status: () => statusJson(manager.status()),
    async stop() {
      stopped = true;
      await queue;
      await manager.stop();
    },
  };
}

function statusJson(s: CaptureStatus): Record<string, unknown> {
  return {
    mode: 'iptables',
    ok: s.ok,
    running: s.running,
    ruleCount: s.ruleCount,
    nodeIps: s.nodeIps,
    ports: s.ports,
    otherPorts: s.otherPorts,
    skipped: s.skipped,
    applies: s.applies,
    failures: s.failures,
    lastAppliedAt: s.lastAppliedAt?.toISOString(),
    ...(s.lastError ? { lastError: { code: s.lastError.code, message: s.lastError.message, at: s.lastError.at.toISOString() } } : {}),
  };
}
