// A user-space link between two hops of a chain (the "WAN" between ingress and egress): a TCP
// proxy that limits each direction to `rate` bytes/s and delays every byte by `delayMs` one way.
// Bytes in flight per direction are capped at rate·delay + queue, past which the proxy stops reading
// (TCP backpressure stands in for a router's finite buffer, so no loss). No netem in this kernel.
// Run as a child: `node link.mjs <host> <port> <rate B/s, 0 = unlimited> <delayMs> <queue bytes>` → IPC {port}.
import net from 'node:net';

/** @param {{ host: string, port: number, rate?: number, delayMs?: number, queue?: number, listenHost?: string }} opts @returns {Promise<net.Server>} */

export function startLink({ host, port, rate = 0, delayMs = 0, queue = 256 * 1024, listenHost = '127.0.0.1' }) {
  const cap = (rate > 0 ? (rate * delayMs) / 1000 : 0) + queue;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (down) => {
    const up = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    // a clean close lets the other direction's queue drain first (at most delay + cap/rate)
    const drainMs = delayMs + (rate > 0 ? (cap * 1000) / rate : 0) + 100;
    const closeLater = (/** @type {net.Socket} */ other) => (/** @type {boolean} */ hadError) =>
      hadError ? other.destroy() : setTimeout(() => other.destroy(), drainMs).unref();
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('close', closeLater(up));
    up.on('close', closeLater(down));
    pipeLinked(down, up, rate, delayMs, cap);
    pipeLinked(up, down, rate, delayMs, cap);
  });
  return new Promise((resolve) => server.listen({ host: listenHost, port: 0, backlog: 4096 }, () => resolve(server)));
}

/** @param {net.Socket} from @param {net.Socket} to @param {number} rate @param {number} delayMs @param {number} cap */
function pipeLinked(from, to, rate, delayMs, cap) {
  if (rate === 0 && delayMs === 0) {
    from.pipe(to);
    return;
  }
  /** @type {{ buf: Buffer, due: number }[]} */
  const queue = [];
  let inFlight = 0;
  let lastDepart = 0;
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  let ended = false;
  const deliver = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].due <= now + 0.5) {
      const { buf } = queue.shift();
      inFlight -= buf.length;
      if (!to.destroyed) to.write(buf);
    }
    if (inFlight <= cap && from.isPaused()) from.resume();
    if (queue.length) timer = setTimeout(deliver, Math.max(0, queue[0].due - performance.now()));
    else if (ended && !to.destroyed) to.end();
  };
  from.on('data', (/** @type {Buffer} */ buf) => {
    const now = performance.now();
    const depart = rate > 0 ? Math.max(now, lastDepart) + (buf.length * 1000) / rate : now;
    lastDepart = depart;
    queue.push({ buf, due: depart + delayMs });
    inFlight += buf.length;
    if (inFlight > cap) from.pause();
    if (!timer) timer = setTimeout(deliver, Math.max(0, queue[0].due - now));
  });
  from.on('end', () => {
    ended = true;
    if (!queue.length && !to.destroyed) to.end();
  });
}

if (process.argv[1]?.endsWith('link.mjs') && process.send) {
  const [host, port, rate, delayMs, queue] = process.argv.slice(2);
  const server = await startLink({ host, port: Number(port), rate: Number(rate), delayMs: Number(delayMs), queue: Number(queue) });
  process.send({ port: /** @type {net.AddressInfo} */ (server.address()).port });
}
