// The HTTPS listener in passthrough mode (--https-mode=passthrough): the caller's TLS goes end to end
// to the kubelet. The server reads only the routing key — the original destination of an iptables-
// captured connection, else the ClientHello's server name (DNS capture: the node name, port 10250) —
// opens a stream to that node as the CONNECT frontend does, sends the ClientHello with the OPEN and
// relays raw bytes. No kubelet-client credential, no caller check here: the kubelet authenticates
// and authorizes the caller itself. A connection that cannot be routed gets a fatal TLS alert (the
// caller's TLS stack reports it) and a warn line naming what to fix.
import type { Socket } from 'node:net';
import { channelOf } from '@edge-tunnel/dnat';
import type { Dest } from '@edge-tunnel/dnat';
import type { OriginalDst } from '@edge-tunnel/capture';
import type { PassthroughHandlers } from '../accept/passthrough-front.js';
import type { ProxyContext } from './context.js';
import { isFailure } from './dest.js';
import type { Failure } from './http-errors.js';
import { PassthroughAudit } from './passthrough-audit.js';
import { tunnelError } from './tunnel-errors.js';
import { RawRelayCall, destroyOnError } from './raw-relay-call.js';
import { openSocketTunnel, route } from './tunnel.js';

/** The kubelet's HTTPS port: where a connection routed by its server name goes. */
export const KUBELET_HTTPS_PORT = 10250;

/** What the server knows of where a passthrough caller wants to go. */
export interface PassthroughKey {
  /** the ClientHello's server name */
  sni: string | undefined;
  /** the destination before DNAT (iptables capture), when the conntrack entry names one */
  original: OriginalDst | undefined;
}

/** Fatal TLS alert descriptions sent to refused callers (RFC 8446 §6.2). */
export const TlsAlert = {
  /** no node by that name, or no name at all */
  unrecognized_name: 112,
  /** the port is not an HTTPS port of the config, or the agent refuses it */
  access_denied: 49,
  /** the bytes are not a ClientHello we can read */
  decode_error: 50,
  /** the node is known but cannot be reached now (no agent, limits, dial failed) */
  internal_error: 80,
} as const;
export type TlsAlert = keyof typeof TlsAlert;

const ALERT_OF: Readonly<Record<string, TlsAlert>> = {
  NO_ROUTING_KEY: 'unrecognized_name',
  NODE_UNKNOWN: 'unrecognized_name',
  NODE_NO_ADDRESS: 'unrecognized_name',
  PORT_NOT_CONFIGURED: 'access_denied',
  WRONG_CHANNEL: 'access_denied',
  AGENT_CEILING: 'access_denied',
  REFUSED: 'access_denied',
  MALFORMED_REQUEST: 'decode_error',
};

/** The TLS alert a refusal with `reason` is sent as. */
export function alertOf(reason: string): TlsAlert {
  return ALERT_OF[reason] ?? 'internal_error';
}

/** The record of a fatal alert (TLS 1.2 record version: every client reads it before a ServerHello). */
export function alertRecord(alert: TlsAlert): Buffer {
  return Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, TlsAlert[alert]]);
}

/**
 * Where a passthrough connection goes: the original destination when it is an edge node's IP (what
 * the caller dialled), else the server name on 10250 (a DNAT to the listener by something else, e.g.
 * a Service's, names no node), else the original destination as it is (its miss is precise).
 */
export function passthroughDest(key: PassthroughKey, isNodeIp: (ip: string) => boolean = () => true): Dest | Failure {
  const original = key.original === undefined ? undefined : { host: key.original.ip, port: key.original.port };
  if (original !== undefined && (isNodeIp(original.host) || key.sni === undefined)) return original;
  if (key.sni !== undefined) return { host: key.sni, port: KUBELET_HTTPS_PORT };
  return {
    ...tunnelError('NO_ROUTING_KEY'),
    message:
      'passthrough: the ClientHello names no server (SNI) and the connection has no original destination; ' +
      'dial the kubelet by node name (DNS capture; kube-apiserver --kubelet-preferred-address-types=Hostname first), ' +
      "or by node IP through this server's own iptables capture (--capture=iptables)",
  };
}

/** Routes and relays one connection whose whole ClientHello (and anything after it) is `hello`. */
export function relayPassthrough(ctx: ProxyContext, socket: Socket, hello: Buffer, key: PassthroughKey): void {
  const call = new PassthroughCall(ctx, socket, new PassthroughAudit(ctx.log, ctx.metrics, socket));
  call.audit.sni = key.sni;
  if (key.original) call.audit.originalDst = `${key.original.ip}:${key.original.port}`;
  socket.on('error', destroyOnError);
  const dest = passthroughDest(key, (ip) => ctx.registry.table.byIp(ip) !== undefined);
  if (isFailure(dest)) return call.fail(dest);
  call.audit.port = dest.port;
  const r = route(ctx, dest, channelOf(ctx.portConfig(), dest.port) ?? ctx.channel);
  if (isFailure(r)) return call.fail(r);
  call.audit.nodeName = r.nodeName;
  call.claim = { authenticated: false, caller: socket.remoteAddress ?? 'unknown', nodeName: r.nodeName, listener: ctx.listener };
  const stream = openSocketTunnel(ctx, r, 'passthrough', call.audit.traceId, call.claim, call);
  if (isFailure(stream)) return call.fail(stream);
  call.stream = stream;
  stream.send(hello); // the ClientHello goes out with the OPEN
}

/** Refuses a connection before routing (its bytes were no ClientHello): alert, warn line, audit line. */
export function refusePassthrough(ctx: ProxyContext, socket: Socket, f: Failure, sni?: string): void {
  const call = new PassthroughCall(ctx, socket, new PassthroughAudit(ctx.log, ctx.metrics, socket));
  call.audit.sni = sni;
  socket.on('error', destroyOnError);
  call.fail(f);
}

/** One passthrough connection: a refusal is a fatal TLS alert, success nothing but the kubelet's bytes. */
class PassthroughCall extends RawRelayCall<PassthroughAudit> {
  fail(f: Failure): void {
    const alert = alertOf(f.reason);
    const { caller, sni, originalDst, nodeName, port, traceId } = this.audit;
    this.ctx.log.warn(
      { listener: 'https', caller, sni, originalDst, nodeName, port, traceId, code: f.reason, alert, reason: f.message },
      'passthrough refused',
    );
    if (!this.socket.destroyed) this.socket.end(alertRecord(alert), () => this.socket.destroy());
    this.audit.finish({ status: f.status, reason: f.reason, alert });
  }

  protected idleLine(idleMs: number): void {
    this.ctx.log.warn(
      { listener: 'https', nodeName: this.audit.nodeName, port: this.audit.port, traceId: this.audit.traceId, reason: `no byte either way for ${idleMs} ms` },
      'relay closed: idle timeout',
    );
  }
}

/** The original destination of an accepted connection (iptables capture), undefined when unknown. */
export type OriginalDstLookup = (socket: Socket) => Promise<OriginalDst | undefined>;

/** What the passthrough front calls: route each whole ClientHello (after the original-destination lookup, if any). */
export function passthroughHandlers(ctx: ProxyContext, originalDst?: OriginalDstLookup): PassthroughHandlers {
  return {
    hello(socket, hello, sni) {
      if (originalDst === undefined) return relayPassthrough(ctx, socket, hello, { sni, original: undefined });
      void originalDst(socket).then((original) => {
        if (!socket.destroyed) relayPassthrough(ctx, socket, hello, { sni, original });
      });
    },
    malformed(socket, reason) {
      refusePassthrough(ctx, socket, { ...tunnelError('MALFORMED_REQUEST'), message: `passthrough: ${reason}` });
    },
  };
}
