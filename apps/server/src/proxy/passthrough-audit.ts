// The audit line of one passthrough connection (--https-mode=passthrough). TLS goes end to end to the
// kubelet, so there is no method, path or status to log: the line keeps what the server can see —
// caller address, SNI, the original destination, node, port, bytes each way, duration — and, for a
// refused connection, the tunnel error code and the TLS alert sent.
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { freshTraceId } from './audit.js';

export interface PassthroughRecord {
  listener: 'https';
  mode: 'passthrough';
  /** `address:port` of the caller (the server authenticates no one in this mode) */
  caller: string;
  /** the ClientHello's server name, absent when it sent none */
  sni: string | undefined;
  /** `ip:port` the caller dialled before DNAT (iptables capture), absent when unknown */
  originalDst: string | undefined;
  nodeName: string | undefined;
  port: number | undefined;
  /** 200 relayed, else the refusal's tunnel-error status */
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  traceId: string;
  reason: string | undefined;
  /** the TLS alert description sent with a refusal (RFC 8446 §6) */
  alert: string | undefined;
}

export class PassthroughAudit {
  readonly caller: string;
  sni: string | undefined = undefined;
  originalDst: string | undefined = undefined;
  nodeName: string | undefined = undefined;
  port: number | undefined = undefined;
  readonly traceId = freshTraceId();
  readonly #started = performance.now();
  #done = false;

  constructor(
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
    socket: Socket,
  ) {
    this.caller = [socket.remoteAddress, socket.remotePort].join(':');
  }

  finish(patch: Pick<PassthroughRecord, 'status'> & Partial<Pick<PassthroughRecord, 'bytesIn' | 'bytesOut' | 'reason' | 'alert'>>): void {
    if (this.#done) return;
    this.#done = true;
    const seconds = (performance.now() - this.#started) / 1000;
    const { caller, sni, originalDst, nodeName, port, traceId } = this;
    const record: PassthroughRecord = {
      listener: 'https',
      mode: 'passthrough',
      caller,
      sni,
      originalDst,
      nodeName,
      port,
      status: patch.status,
      bytesIn: patch.bytesIn ?? 0,
      bytesOut: patch.bytesOut ?? 0,
      durationMs: Math.round(seconds * 1_000_000) / 1000,
      traceId,
      reason: patch.reason,
      alert: patch.alert,
    };
    this.metrics.requestDuration.observe({ listener: 'https', status: String(patch.status) }, seconds);
    this.log.info(record, 'audit');
  }
}
