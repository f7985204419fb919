import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeletContext } from './context.js';
import { EXPOSITION_CONTENT_TYPE } from './exposition.js';
import { PAGE_NOT_FOUND, pathSegments, sendJson, sendText } from './http-util.js';
import { handleContainerLogs } from './logs.js';
import { cadvisorMetrics, kubeletMetrics, trackRequest } from './metrics.js';
import type { ServerType } from './metrics.js';
import { resourceMetrics } from './resource-metrics.js';
import { statsSummary } from './stats.js';
import { STREAM_ROUTES } from './upgrade.js';

type FixedHandler = (ctx: KubeletContext, res: ServerResponse) => void;

/** Plain GET endpoints; all of them are also served on the read-only port. */
export const FIXED_ROUTES: Readonly<Record<string, FixedHandler>> = {
  '/healthz': (_ctx, res) => sendText(res, 200, 'ok'),
  '/metrics': (ctx, res) => sendText(res, 200, kubeletMetrics(ctx), EXPOSITION_CONTENT_TYPE),
  '/metrics/cadvisor': (ctx, res) => sendText(res, 200, cadvisorMetrics(ctx), EXPOSITION_CONTENT_TYPE),
  '/metrics/resource': (ctx, res) => sendText(res, 200, resourceMetrics(ctx), EXPOSITION_CONTENT_TYPE),
  '/stats/summary': (ctx, res) => sendJson(res, 200, statsSummary(ctx)),
  '/pods': (ctx, res) => sendJson(res, 200, ctx.pods.podList()),
};

/** Serves one plain (non-upgrade) request on either listener. */
export function handleRequest(ctx: KubeletContext, server: ServerType, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://kubelet');
  const method = req.method ?? 'GET';
  const longRunning = url.pathname.startsWith('/containerLogs/') && url.searchParams.get('follow') === 'true';
  res.on('close', () => trackRequest(ctx, server, method, url.pathname, res.statusCode, longRunning));

  const fixed = FIXED_ROUTES[url.pathname];
  if (fixed) {
    if (method !== 'GET' && method !== 'HEAD') return sendText(res, 405, `method ${method} not allowed`);
    return fixed(ctx, res);
  }
  const segments = server === 'readwrite' ? pathSegments(url.pathname) : undefined;
  if (segments?.[0] === 'containerLogs' && segments.length === 4 && method === 'GET') {
    const [, namespace, pod, container] = segments as [string, string, string, string];
    return handleContainerLogs(ctx, res, { namespace, pod, container }, url.searchParams);
  }
  if (segments && segments[0] !== undefined && segments[0] in STREAM_ROUTES) {
    return sendText(res, 400, 'Upgrade request required');
  }
  sendText(res, 404, PAGE_NOT_FOUND);
}
