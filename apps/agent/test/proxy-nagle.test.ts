// Request/response through a real tinyproxy, which relays each read with one write and leaves
// TCP_NODELAY off on both of its sockets: a write of ours that the peer does not answer (a lone link
// ACK) makes the proxy hold our next DATA until the peer's kernel sends its delayed ACK (~40 ms).
// 50 sequential round trips, each after a pause longer than the link's old 10 ms ACK timer and
// shorter than a delayed ACK, over the resumable link (the TLS transport's default), through an
// http:// proxy and through an https:// one (a TLS terminator in front of tinyproxy): median < 10 ms.
import { once } from 'node:events';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createServer as createTlsServer } from 'node:tls';
import t, { type Test } from 'tap';
import type { Stream } from '@edge-tunnel/framing';
import { proxyConfig } from '../src/proxy-config.js';
import { setup, target } from './fixtures/harness.js';
import { NODE_IP, testPki } from './fixtures/pki.js';
import { HAVE_TINYPROXY, Tinyproxy } from './fixtures/tinyproxy.js';

const skip = HAVE_TINYPROXY ? false : 'tinyproxy not installed (apt-get install tinyproxy)';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROUND_TRIPS = 50;
/** after the old lone-ACK timer (10 ms), before the peer's delayed ACK (40 ms) */
const PAUSE_MS = 15;

/** Milliseconds of each 64-byte request until its echo is back, sorted. */
async function roundTrips(stream: Stream): Promise<number[]> {
  const xs: number[] = [];
  const request = Buffer.alloc(64, 0x61);
  for (let i = 0; i < ROUND_TRIPS; i++) {
    await sleep(PAUSE_MS);
    const t0 = performance.now();
    let got = 0;
    await new Promise<void>((resolve) => {
      const onData = (b: Buffer): void => {
        got += b.length;
        if (got < request.length) return;
        stream.off('data', onData);
        resolve();
      };
      stream.on('data', onData);
      stream.write(request);
    });
    xs.push(performance.now() - t0);
  }
  return xs.sort((a, b) => a - b);
}

/** A TLS terminator on 127.0.0.1 in front of tinyproxy: what an https:// proxy is to the agent. */
async function tlsFront(t: Test, proxyPort: number): Promise<number> {
  const pki = await testPki();
  const server = createTlsServer({ cert: pki.server.certPem, key: pki.server.keyPem, ALPNProtocols: ['http/1.1'] }, (tls) => {
    tls.setNoDelay(true);
    const plain = netConnect({ host: '127.0.0.1', port: proxyPort, noDelay: true });
    tls.pipe(plain).pipe(tls);
    tls.on('error', () => plain.destroy());
    plain.on('error', () => tls.destroy());
    t.teardown(() => (tls.destroy(), plain.destroy()));
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return (server.address() as AddressInfo).port;
}

for (const scheme of ['http', 'https'] as const) {
  t.test(`${ROUND_TRIPS} spaced round trips through an ${scheme}:// proxy (tinyproxy) over the resumable link: median < 10 ms`, { skip }, async (t) => {
    const echo = await target(t, (s) => s.pipe(s));
    const proxy = new Tinyproxy();
    await proxy.start();
    t.teardown(() => proxy.stop());
    const pki = await testPki();
    const port = scheme === 'http' ? proxy.port : await tlsFront(t, proxy.port);
    const via = proxyConfig({ proxy: `${scheme}://127.0.0.1:${port}`, timeoutMs: 5000, ...(scheme === 'https' ? { caFile: pki.caFile } : {}) }, {})!;
    const { server, config } = await setup(t, { resumeGraceMs: 10_000, config: { proxy: via, allowPorts: [{ lo: echo.port, hi: echo.port }] } });
    const session = await server.nextSession();
    t.same(proxy.connects(), [`127.0.0.1:${config.server.port}`], 'the session runs through tinyproxy');
    t.equal(server.accepted[0]?.kind, 'new', 'over the resumable link (its ACKs are what a lone write was)');
    const stream = session.open({ host: NODE_IP, port: echo.port });
    stream.on('error', () => {});
    const xs = await roundTrips(stream);
    stream.destroy();
    const median = xs[ROUND_TRIPS / 2]!;
    t.ok(median < 10, `median round trip ${median.toFixed(2)} ms < 10 ms (p90 ${xs[Math.floor(ROUND_TRIPS * 0.9)]!.toFixed(2)} ms; a Nagle stall gives ~35)`);
  });
}
