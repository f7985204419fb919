// The request/response sink (`reqs`, `scrape`): a kubelet-shaped HTTP/1.1 responder, plain and TLS,
// on the node's IP. `GET /small` answers 64 bytes, `GET /big` 100 KiB (a `/stats/summary` of a busy
// node), anything else 404; every response has a Content-Length, the connection stays open unless the
// request says `Connection: close` (as Go's net/http does). A raw parser, not node:http, so the sink
// costs little next to the chain it measures. Run as a child: `node http-sink.mjs <host>` with
// PERF_HTTP_SINK = { cert, key } (PEM paths) → IPC { httpPort, httpsPort }. `scrape`'s emulated
// agents answer their streams with the same `serveHttp` (`/metrics/resource`: ~9 KiB).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export const SMALL = 64;
export const BIG = 100 * 1024;
/** the kubelet's HTTPS port, where `edge-tunnel-https-passthrough` lands (SNI routes to it) */
export const KUBELET_PORT = 10250;

const response = (/** @type {string} */ status, /** @type {Buffer} */ body) =>
  Buffer.concat([Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
/** `/metrics/resource` of a node with 20 pods of 2 containers: ~9 KiB of Prometheus text (`scrape`) */
function resourceText() {
  const lines = [];
  for (const name of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_start_time_seconds']) {
    lines.push(`# HELP ${name} [STABLE] …`, `# TYPE ${name} gauge`);
    for (let p = 0; p < 20; p++)
      for (const c of ['app', 'sidecar']) lines.push(`${name}{container="${c}",namespace="default",pod="web-${p}"} ${(p * 7.3 + 1).toFixed(6)} 1796642333677`);
  }
  lines.push('node_cpu_usage_seconds_total 123456.789 1796642333677', 'node_memory_working_set_bytes 4.123e+09 1796642333677', 'resource_scrape_error 0', '');
  return Buffer.from(lines.join('\n'));
}
export const RESOURCE = resourceText();
/** @type {Record<string, Buffer>} */
const ROUTES = {
  '/small': response('200 OK', Buffer.alloc(SMALL, 0x73)),
  '/big': response('200 OK', Buffer.alloc(BIG, 0x62)),
  '/metrics/resource': response('200 OK', RESOURCE),
};
const NOT_FOUND = response('404 Not Found', Buffer.from('404 page not found\n'));

/**
 * Answers every request head on the socket in order (pipelined ones too); GET requests carry no body.
 * @param {import('node:stream').Duplex} socket a connection, a TLS socket or a framing stream
 */
export function serveHttp(socket) {
  /** @type {Buffer} */
  let buf = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('end', () => socket.end());
  socket.on('data', (/** @type {Buffer} */ chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16 * 1024) socket.destroy();
        return;
      }
      const head = buf.toString('latin1', 0, end);
      buf = buf.subarray(end + 4);
      const path = head.slice(head.indexOf(' ') + 1, head.indexOf(' ', head.indexOf(' ') + 1));
      socket.write(ROUTES[path] ?? NOT_FOUND);
      if (/\r\nconnection:\s*close/i.test(head)) return socket.end();
    }
  });
}

/** @param {string} host @param {{ cert: Buffer, key: Buffer }} pem */
export async function startHttpSink(host, { cert, key }) {
  /** @template {net.Server} S @param {S} server @returns {Promise<S>} */
  const listen = (server) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: 0, backlog: 4096 }, () => resolve(server));
    });
  const plain = await listen(net.createServer({ noDelay: true }, serveHttp));
  const secure = await listen(tls.createServer({ cert, key, noDelay: true }, serveHttp));
  // the kubelet's own port, where a passthrough routed by SNI lands (a busy port only loses that chain)
  /** @type {{ server?: tls.Server, error?: string }} */
  const kubelet = await new Promise((resolve) => {
    const server = tls.createServer({ cert, key, noDelay: true }, serveHttp);
    server.once('error', (err) => resolve({ error: `${host}:${KUBELET_PORT}: ${err.message}` }));
    server.listen({ host, port: KUBELET_PORT, backlog: 4096 }, () => resolve({ server }));
  });
  return { plain, secure, kubelet, close: () => (plain.close(), secure.close(), kubelet.server?.close()) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()) && process.send) {
  const cfg = JSON.parse(process.env.PERF_HTTP_SINK);
  const sink = await startHttpSink(process.argv[2] ?? '127.0.0.1', { cert: readFileSync(cfg.cert), key: readFileSync(cfg.key) });
  const portOf = (/** @type {net.Server | undefined} */ s) => /** @type {net.AddressInfo | undefined} */ (s?.address())?.port;
  process.send({ httpPort: portOf(sink.plain), httpsPort: portOf(sink.secure), kubeletPort: portOf(sink.kubelet.server), kubeletError: sink.kubelet.error });
}
