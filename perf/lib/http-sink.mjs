// The request/response sink (`reqs`, `scrape`): a kubelet-shaped HTTP/1.1 responder, plain and TLS,
// on the node's IP. `GET /small` answers 64 bytes, `GET /big` 100 KiB (a `/stats/summary` of a busy
// node), anything else 404; every response has a Content-Length, the connection stays open unless the
// request says `Connection: close` (as Go's net/http does). A raw parser, not node:http, so the sink
// costs little next to the chain it measures. Run as a child: `node http-sink.mjs <host>` with
// PERF_HTTP_SINK = { cert, key } (PEM paths) → IPC { httpPort, httpsPort }.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export const SMALL = 64;
export const BIG = 100 * 1024;

const response = (status, body) =>
  Buffer.concat([Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
const ROUTES = { '/small': response('200 OK', Buffer.alloc(SMALL, 0x73)), '/big': response('200 OK', Buffer.alloc(BIG, 0x62)) };
const NOT_FOUND = response('404 Not Found', Buffer.from('404 page not found\n'));

/** Answers every request head on the socket in order (pipelined ones too); GET requests carry no body. */
export function serveHttp(socket) {
  let buf = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('end', () => socket.end());
  socket.on('data', (chunk) => {
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

export async function startHttpSink(host, { cert, key }) {
  const listen = (server) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0, backlog: 4096 }, () => resolve(server));
  });
  const plain = await listen(net.createServer({ noDelay: true }, serveHttp));
  const secure = await listen(tls.createServer({ cert, key, noDelay: true }, serveHttp));
  return { plain, secure, close: () => (plain.close(), secure.close()) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()) && process.send) {
  const cfg = JSON.parse(process.env.PERF_HTTP_SINK);
  const sink = await startHttpSink(process.argv[2] ?? '127.0.0.1', { cert: readFileSync(cfg.cert), key: readFileSync(cfg.key) });
  process.send({ httpPort: sink.plain.address().port, httpsPort: sink.secure.address().port });
}
