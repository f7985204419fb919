// /debug/* answers only connections that arrived on a loopback address; /healthz, /readyz and
// /metrics answer on any address (the manifests bind meta on every address for probes).
import { once } from 'node:events';
import { request } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { AgentRegistry } from '../src/agents/registry.js';
import { DEBUG_LOOPBACK_ONLY, createMetaServer, isLoopback } from '../src/meta.js';
import { ServerMetrics } from '../src/metrics.js';
import { StaticPortConfigSource } from '../src/port-config-source.js';

t.test('isLoopback', async (t) => {
  for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) t.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', '0.0.0.0', undefined]) t.notOk(isLoopback(a), String(a));
});

/** A meta server whose connections claim `localAddress` (as a pod IP would), reached over loopback TCP. */
async function metaAs(t: Test, localAddress: string | undefined): Promise<(path: string) => Promise<{ status: number; error?: string; body: string }>> {
  const registry = new AgentRegistry();
  const meta = createMetaServer({
    registry,
    metrics: new ServerMetrics(registry),
    portConfig: new StaticPortConfigSource(),
    ready: () => true,
    debug: { '/debug/cluster': () => ({ nodes: ['edge-a'] }) },
  });
  const front = createNetServer((socket: Socket) => {
    if (localAddress !== undefined) Object.defineProperty(socket, 'localAddress', { value: localAddress });
    meta.emit('connection', socket);
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  t.teardown(() => new Promise<void>((r) => front.close(() => r())));
  const port = (front.address() as AddressInfo).port;
  return (path) =>
    new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c) => (body += c))
          .on('end', () => resolve({ status: res.statusCode!, error: res.headers['x-tunnel-error'] as string | undefined, body }));
      })
        .on('error', reject)
        .end();
    });
}

t.test('from a pod IP: /debug/* is 403 DEBUG_LOOPBACK_ONLY, probes and metrics answer', async (t) => {
  const get = await metaAs(t, '10.244.1.7');
  for (const path of ['/debug/tunnels', '/debug/config', '/debug/cluster']) {
    const r = await get(path);
    t.equal(r.status, 403, path);
    t.equal(r.error, DEBUG_LOOPBACK_ONLY, path);
    t.notMatch(r.body, /edge-a/, `${path}: no node names`);
  }
  t.equal((await get('/healthz')).status, 200);
  t.equal((await get('/readyz')).status, 200);
  t.equal((await get('/metrics')).status, 200);
  t.notMatch((await get('/nope')).body, /debug/, 'the 404 does not advertise /debug pages');
});

t.test('from loopback: /debug/* answers', async (t) => {
  const get = await metaAs(t, undefined);
  const r = await get('/debug/cluster');
  t.equal(r.status, 200);
  t.match(r.body, /edge-a/);
});
