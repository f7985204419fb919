// pods/{name}/log → GET https://<node>:10250/containerLogs/{ns}/{pod}/{container}?…, streamed back
// as it arrives; when the client goes away the kubelet connection is destroyed at once.
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { StatusError, type StatusReason } from './errors.js';
import { connectKubelet, resolveKubelet, type KubeletProxyOptions } from './kubelet-proxy.js';
import type { ObjectStore } from './store.js';

/** PodLogOptions forwarded to the kubelet, as kube-apiserver's LogLocation does. */
export const LOG_QUERY_KEYS = ['follow', 'previous', 'timestamps', 'sinceSeconds', 'sinceTime', 'tailLines', 'limitBytes'] as const;

/** Kubelet error bodies are read up to this size for the Status message. */
const MAX_ERROR_BODY_BYTES = 4096;

export interface LogRequest {
  res: ServerResponse;
  store: ObjectStore;
  namespace: string;
  pod: string;
  query: URLSearchParams;
}

/** Serve a pods/log request through the kubelet; rejects with a StatusError before any byte is sent. */
export async function proxyLogs(options: KubeletProxyOptions, r: LogRequest): Promise<void> {
  const target = resolveKubelet(r.store, r.namespace, r.pod, r.query.get('container') ?? '');
  const params = new URLSearchParams();
  for (const key of LOG_QUERY_KEYS) {
    const value = r.query.get(key);
    if (value !== null && value !== '') params.set(key, value);
  }
  const path = `/containerLogs/${[target.namespace, target.pod, target.container].map(encodeURIComponent).join('/')}${params.size > 0 ? `?${params}` : ''}`;
  const socket = await connectKubelet(options, target);
  if (r.res.destroyed) return void socket.destroy();
  const upstream = request({ createConnection: () => socket, method: 'GET', path, headers: { host: `${target.nodeIp}:${target.port}`, connection: 'close' } });
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    upstream.once('response', resolve);
    upstream.once('error', (err) => reject(new StatusError('InternalError', `Get "https://${target.nodeIp}:${target.port}${path}": ${err.message}`)));
    r.res.once('close', () => upstream.destroy());
    upstream.end();
  });
  if (response.statusCode !== 200) throw await kubeletFailure(response);
  relayBody(response, r.res, () => {
    upstream.destroy();
    socket.destroy();
  });
}

/** Stream the kubelet's body to the client; either side closing tears the other down. */
function relayBody(from: IncomingMessage, to: ServerResponse, destroyUpstream: () => void): void {
  to.writeHead(200, { 'Content-Type': from.headers['content-type'] ?? 'text/plain', 'Cache-Control': 'no-cache' });
  to.flushHeaders();
  from.pipe(to);
  from.once('aborted', () => to.destroy());
  from.once('error', () => to.destroy());
  from.once('close', () => {
    if (!from.complete) to.destroy();
  });
  to.once('close', () => {
    if (!to.writableFinished) destroyUpstream();
  });
}

/** A non-200 kubelet answer as a Status with the kubelet's message (kube-apiserver passes the code on). */
async function kubeletFailure(response: IncomingMessage): Promise<StatusError> {
  let body = '';
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (body.length < MAX_ERROR_BODY_BYTES) body += chunk.toString('utf8');
  }
  const code = response.statusCode ?? 500;
  const reason: StatusReason = code === 404 ? 'NotFound' : code === 400 ? 'BadRequest' : 'InternalError';
  return new StatusError(reason, body.trim().slice(0, MAX_ERROR_BODY_BYTES) || `the kubelet answered ${code}`);
}
