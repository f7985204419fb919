import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { isReviewPath, serveReview, type AuthTable } from './auth-reviews.js';
import { coreVersions, group, groupList, resourceList, SERVER_VERSION } from './discovery.js';
import { StatusError, notFound } from './errors.js';
import { queryRecord, sendError, sendJson } from './http.js';
import { handleCreate, handleDelete, handleDeleteCollection, handlePatch, handleUpdate } from './mutate.js';
import type { KubeletProxyOptions } from './kubelet-proxy.js';
import { isKubeletRequest, serveKubeletRequest, serveKubeletUpgrade } from './kubelet-proxy-routes.js';
import { handleGet, type RequestContext } from './read.js';
import { INITIAL_NAMESPACES } from './resources.js';
import { openApiV3 } from './openapi.js';
import { route, type DiscoveryDoc } from './routing.js';
import { DEFAULT_HISTORY_LIMIT, ObjectStore } from './store.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { WatchHub } from './watch.js';

export interface FakeApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Interval of BOOKMARK events on watches with allowWatchBookmarks=true. Default 1000. */
  bookmarkIntervalMs?: number;
  /** Serve HTTPS with this PEM certificate and key. */
  tls?: { cert: string; key: string };
  /** Events kept for watch resumption. Default 1000. */
  historyLimit?: number;
  /** Serve pods/log, exec, attach and portforward by reaching kubelets this way (else they are 404). */
  kubelet?: KubeletProxyOptions;
  /** Called for every request as it arrives (after it is added to `requests`). */
  onRequest?: (request: RecordedRequest) => void;
  /** Tokens and allow rules of TokenReview / SubjectAccessReview (default: none, nothing authenticates). */
  auth?: Partial<AuthTable>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface FakeApiServer {
  /** `http://127.0.0.1:port` (or https). */
  readonly url: string;
  readonly port: number;
  readonly store: ObjectStore;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Tokens and allow rules of TokenReview / SubjectAccessReview; change them at will. */
  readonly auth: AuthTable;
  /** End watches cleanly, then stop listening and drop connections. */
  close(): Promise<void>;
  /** End every open watch response abruptly, like an apiserver restart. */
  dropWatches(): void;
  /** Forget history: watches from older resourceVersions now get 410 Gone. */
  compact(): void;
  /** Kubeconfig YAML pointing at `url`; written to `path` when given. */
  kubeconfig(path?: string): string;
}

/** Default BOOKMARK interval. */
export const DEFAULT_BOOKMARK_INTERVAL_MS = 1000;

/** Start a fake kube-apiserver; resolves once it listens. */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const store = new ObjectStore(options.historyLimit ?? DEFAULT_HISTORY_LIMIT);
  for (const name of INITIAL_NAMESPACES) store.put('namespaces', { metadata: { name } });
  const watches = new WatchHub(store, options.bookmarkIntervalMs ?? DEFAULT_BOOKMARK_INTERVAL_MS);
  const requests: RecordedRequest[] = [];
  const auth: AuthTable = { tokens: { ...options.auth?.tokens }, rules: [...(options.auth?.rules ?? [])] };
  const record = (req: IncomingMessage): URL => recordRequest(req, requests, options.onRequest);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res, store, watches, record, options.kubelet, auth).catch((err: unknown) => sendError(res, err));
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
  // Upgraded (exec, attach, portforward) connections are not closed by closeAllConnections().
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    record(req);
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    serveKubeletUpgrade(options.kubelet, store, req, socket, head);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    store,
    requests,
    auth,
    dropWatches: () => watches.dropAll(),
    compact: () => store.compact(),
    kubeconfig(path?: string): string {
      const text = kubeconfigYaml(url);
      if (path !== undefined) writeFileSync(path, text, { mode: 0o600 });
      return text;
    },
    close: () =>
      new Promise<void>((resolve) => {
        watches.endAll();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }),
  };
}

function recordRequest(req: IncomingMessage, requests: RecordedRequest[], onRequest?: (r: RecordedRequest) => void): URL {
  const url = new URL(req.url ?? '/', 'http://fake-apiserver');
  const recorded = { method: req.method ?? 'GET', path: url.pathname, query: queryRecord(url.searchParams) };
  requests.push(recorded);
  onRequest?.(recorded);
  return url;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  store: ObjectStore,
  watches: WatchHub,
  record: (req: IncomingMessage) => URL,
  kubelet: KubeletProxyOptions | undefined,
  auth: AuthTable,
): Promise<void> {
  const url = record(req);
  const method = req.method ?? 'GET';
  if (isReviewPath(url.pathname)) return serveReview(auth, req, res, url.pathname);
  const openapi = method === 'GET' ? openApiV3(url.pathname) : undefined;
  if (openapi) return sendJson(res, 200, openapi);
  const matched = route(url.pathname);
  if (matched.kind === 'discovery') return serveDiscovery(req, res, matched.doc);
  if (matched.kind === 'unknown') throw pathNotFound();
  const ctx: RequestContext = { req, res, query: url.searchParams, target: matched.target, store, watches };
  const { target } = ctx;
  if (kubelet && isKubeletRequest(ctx)) return serveKubeletRequest(kubelet, ctx);
  if (target.subresource !== undefined && target.subresource !== 'status') {
    throw notFound(`${target.resource.name}/${target.subresource}`, target.name ?? '', target.resource.group);
  }
  const named = target.name !== undefined;
  const allNamespaces = target.resource.namespaced && target.namespace === undefined;
  if (method === 'GET') return handleGet(ctx);
  if (allNamespaces) throw methodNotAllowed(method);
  if (method === 'POST' && !named) return handleCreate(ctx);
  if (method === 'PUT' && named) return handleUpdate(ctx);
  if (method === 'PATCH' && named) return handlePatch(ctx);
  if (method === 'DELETE') return named ? handleDelete(ctx) : handleDeleteCollection(ctx);
  throw methodNotAllowed(method);
}

function serveDiscovery(req: IncomingMessage, res: ServerResponse, doc: DiscoveryDoc): void {
  if (req.method !== 'GET') throw methodNotAllowed(req.method ?? '');
  if (doc.type === 'health') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
    return;
  }
  const body =
    doc.type === 'coreVersions'
      ? coreVersions(req.socket.localAddress ? `${req.socket.localAddress}:${req.socket.localPort}` : '')
      : doc.type === 'groups'
        ? groupList()
        : doc.type === 'group'
          ? group(doc.group)
          : doc.type === 'resources'
            ? resourceList(doc.group, doc.version)
            : SERVER_VERSION;
  if (body === undefined) throw pathNotFound();
  sendJson(res, 200, body);
}

function pathNotFound(): StatusError {
  return new StatusError('NotFound', 'the server could not find the requested resource');
}

function methodNotAllowed(method: string): StatusError {
  return new StatusError('MethodNotAllowed', `the server does not allow this method on the requested resource: ${method}`);
}
