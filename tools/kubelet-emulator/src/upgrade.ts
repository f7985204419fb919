import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { EXEC_PROTOCOLS, PORT_FORWARD_PROTOCOLS, negotiate } from './channel.js';
import type { KubeletContext } from './context.js';
import { runExec } from './exec.js';
import { PAGE_NOT_FOUND, pathSegments, rejectUpgrade } from './http-util.js';
import { trackRequest } from './metrics.js';
import type { ServerType } from './metrics.js';
import { parsePorts, runPortForward } from './port-forward.js';
import { parseStreamOptions } from './stream-session.js';

/** A checked upgrade request, ready to run once the WebSocket is open. */
type Start = (ws: WebSocket, protocol: string) => void;

interface StreamRoute {
  /** Path segments after the route name: ns/pod/container or ns/pod. */
  params: number;
  protocols: readonly string[];
  /** Validates the request; returns how to start, or [status, message] to reject it. */
  prepare(ctx: KubeletContext, params: string[], query: URLSearchParams): Start | [number, string];
}

function streamRoute(kind: 'exec' | 'attach'): StreamRoute {
  return {
    params: 3,
    protocols: EXEC_PROTOCOLS,
    prepare(ctx, [namespace, pod, container], query) {
      const ref = { namespace: namespace!, pod: pod!, container: container! };
      const found = ctx.pods.lookup(ref.namespace, ref.pod, ref.container);
      if (typeof found === 'string') return [404, found];
      const options = parseStreamOptions(query, kind === 'exec');
      if (typeof options === 'string') return [400, options];
      return kind === 'exec'
        ? (ws, protocol) => runExec(ctx, ws, protocol, ref, options)
        : (ws, protocol) => ctx.attach.attach(ctx, ws, protocol, ref, options);
    },
  };
}

/** The WebSocket endpoints of the HTTPS port, keyed by the first path segment. */
export const STREAM_ROUTES: Record<string, StreamRoute> = {
  exec: streamRoute('exec'),
  attach: streamRoute('attach'),
  portForward: {
    params: 2,
    protocols: PORT_FORWARD_PROTOCOLS,
    prepare(ctx, [namespace, pod], query) {
      const found = ctx.pods.lookup(namespace!, pod!);
      if (typeof found === 'string') return [404, found];
      const ports = parsePorts(query);
      if (typeof ports === 'string') return [400, ports];
      return (ws) => runPortForward(ws, found.name, ports);
    },
  },
};

/** Protocols chosen per request before the handshake, read back by handleProtocols. */
const chosenProtocols = new WeakMap<IncomingMessage, string>();

export function createWebSocketServer(): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (_offered, req) => chosenProtocols.get(req) || false,
  });
}

function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'] ?? '';
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** Checks an upgrade request, then hands it to the WebSocket server or rejects it with HTTP. */
/** Hands a socket whose upgrade was refused back to its HTTP server, `head` first. */
export type ServeAgain = (socket: Duplex, head: Buffer) => void;

export function handleUpgrade(
  ctx: KubeletContext,
  wss: WebSocketServer,
  server: ServerType,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  serveAgain?: ServeAgain,
): void {
  const url = new URL(req.url ?? '/', 'http://kubelet');
  const method = req.method ?? 'GET';
  const reject = (status: number, message: string): void => {
    // Go's server keeps a connection whose upgrade its handler refused (unless the request said close),
    // whether or not the next request has arrived yet: it may come in a later TLS record
    const keep = serveAgain !== undefined && !/(^|,)\s*close\s*(,|$)/i.test(String(req.headers.connection ?? ''));
    rejectUpgrade(socket, status, message, keep ? () => serveAgain(socket, head) : undefined);
    trackRequest(ctx, server, method, url.pathname, status, false);
  };
  socket.on('error', () => undefined);
  const segments = pathSegments(url.pathname);
  const route = server === 'readwrite' && segments ? STREAM_ROUTES[segments[0] ?? ''] : undefined;
  if (!route || segments!.length !== route.params + 1) return reject(404, PAGE_NOT_FOUND.trim());
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return reject(400, 'only WebSocket upgrades are supported');
  const offered = offeredProtocols(req);
  const protocol = negotiate(offered, route.protocols);
  if (protocol === undefined) {
    return reject(400, `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${route.protocols.join(' ')}]`);
  }
  const start = route.prepare(ctx, segments!.slice(1), url.searchParams);
  if (Array.isArray(start)) return reject(start[0], start[1]);

  chosenProtocols.set(req, protocol);
  // The kubelet takes POST too (its SPDY clients use it); the ws library only takes GET upgrades.
  if (req.method === 'POST') req.method = 'GET';
  wss.handleUpgrade(req, socket, head, (ws) => {
    trackRequest(ctx, server, method, url.pathname, 101, true);
    ctx.sockets.add(ws);
    ws.on('error', () => undefined); // a broken peer only ends its own session
    ws.on('close', () => ctx.sockets.delete(ws));
    start(ws, protocol);
  });
}
