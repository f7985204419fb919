// Dispatch of the pod subresources that go to the kubelet: plain requests (pods/log, and a
// non-upgrade exec/attach/portforward, which kube-apiserver refuses) and upgrade requests.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { StatusError, badRequest } from './errors.js';
import { isKubeletSubresource, resolveKubelet, type KubeletProxyOptions } from './kubelet-proxy.js';
import { isSpdyPortForward, servePortForwardSpdy } from './kubelet-proxy-portforward.js';
import { proxyLogs } from './kubelet-proxy-logs.js';
import { proxyUpgrade, writeRawStatus } from './kubelet-proxy-upgrade.js';
import type { RequestContext } from './read.js';
import { route } from './routing.js';
import type { ObjectStore } from './store.js';

/** Why kubectl's SPDY-over-WebSocket port-forward is refused (kubectl then falls back to SPDY). */
export const TUNNELLED_SPDY_UNSUPPORTED =
  'port-forward over a WebSocket tunnel (SPDY/3.1+portforward.k8s.io) is not supported by this API server: use SPDY/3.1 or WebSocket v4.channel.k8s.io';

/** A WebSocket port-forward the kubelet speaks itself (v4.channel.k8s.io or channel.k8s.io) is relayed as-is. */
function offersWebSocketPortForward(req: IncomingMessage): boolean {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  return offered.includes('v4.channel.k8s.io') || offered.includes('channel.k8s.io');
}

/** True when the request names pods/{name}/log|exec|attach|portforward in a namespace. */
export function isKubeletRequest(ctx: Pick<RequestContext, 'target'>): boolean {
  const { target } = ctx;
  return (
    target.resource.name === 'pods' &&
    target.resource.group === '' &&
    target.namespace !== undefined &&
    target.name !== undefined &&
    isKubeletSubresource(target.subresource)
  );
}

/** A plain (non-upgrade) request for a kubelet subresource. */
export async function serveKubeletRequest(options: KubeletProxyOptions, ctx: RequestContext): Promise<void> {
  const { req, res, target, store, query } = ctx;
  if (target.subresource !== 'log') throw badRequest('Upgrade request required');
  if (req.method !== 'GET') {
    throw new StatusError('MethodNotAllowed', `the server does not allow this method on the requested resource: ${req.method}`);
  }
  await proxyLogs(options, { res, store, namespace: target.namespace!, pod: target.name!, query });
}

/** An upgrade request (`server.on('upgrade')`): exec, attach and portforward are proxied, the rest refused. */
export function serveKubeletUpgrade(options: KubeletProxyOptions | undefined, store: ObjectStore, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url ?? '/', 'http://fake-apiserver');
  const matched = route(url.pathname);
  const ctx = matched.kind === 'resource' ? { target: matched.target } : undefined;
  if (!ctx || !isKubeletRequest(ctx) || ctx.target.subresource === 'log' || !options) {
    return writeRawStatus(socket, new StatusError('NotFound', 'the server could not find the requested resource'));
  }
  const { target } = ctx;
  const subresource = target.subresource as 'exec' | 'attach' | 'portforward';
  if (subresource === 'portforward') {
    try {
      if (isSpdyPortForward(req.headers)) {
        return servePortForwardSpdy(options, resolveKubelet(store, target.namespace!, target.name!, undefined), socket, head, req);
      }
      if (!offersWebSocketPortForward(req)) throw badRequest(TUNNELLED_SPDY_UNSUPPORTED);
    } catch (err) {
      return writeRawStatus(socket, err);
    }
  }
  proxyUpgrade(options, { req, socket, head, store, namespace: target.namespace!, pod: target.name!, subresource, query: url.searchParams }).catch(
    (err: unknown) => writeRawStatus(socket, err),
  );
}
