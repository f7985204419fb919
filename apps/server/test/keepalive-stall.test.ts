// issue 14: Nagle on the server's side of agent connections held a request's second write until the
// agent's delayed ACK, ~40 ms per request once the session had left Linux's quick-ack phase (the
// first ~25 requests of a fresh session are quick either way, so the measured ones come after a
// warm-up). 50 sequential requests on one keep-alive caller connection, through :10264 and :10263.
import t from 'tap';
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { testPki } from './fixtures/pki.js';
import { startNode, startServer } from './fixtures/harness.js';

const pki = await testPki();
const WARMUP = 40;
const MEASURED = 50;

type Send = () => Promise<unknown>;

/** Times `MEASURED` sequential calls after `WARMUP` unmeasured ones; returns the sorted times and the sockets used. */
async function timed(send: Send): Promise<{ times: number[]; sockets: number }> {
  const sockets = new Set<unknown>();
  const times: number[] = [];
  for (let i = 0; i < WARMUP + MEASURED; i++) {
    const t0 = performance.now();
    sockets.add(await send());
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  return { times: times.sort((a, b) => a - b), sockets: sockets.size };
}

function get(req: ReturnType<typeof request>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) =>
      res
        .resume()
        .on('end', () => resolve(res.socket))
        .on('error', reject),
    );
    req.on('error', reject).end();
  });
}

t.test(`${MEASURED} sequential keep-alive requests through :10264 and :10263 stay well under the 40 ms delayed ACK`, async (t) => {
  const server = await startServer(t, pki);
  await startNode(t, pki, server, 'edge-a', '127.0.20.1');
  const plain = new Agent({ keepAlive: true, maxSockets: 1 });
  const tls = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => {
    plain.destroy();
    tls.destroy();
  });
  const { http, https } = server.addr;
  const paths: Array<[string, Send]> = [
    [':10264', () => get(request({ host: http.host, port: http.port, path: '/healthz', agent: plain, headers: { host: '127.0.20.1:10255' } }))],
    [
      ':10263',
      () =>
        get(
          httpsRequest({
            host: https.host,
            port: https.port,
            path: '/healthz',
            agent: tls,
            headers: { host: '127.0.20.1:10250' },
            servername: 'localhost',
            cert: pki.caller.certPem,
            key: pki.caller.keyPem,
            ca: pki.agentCa.certPem,
          }),
        ),
    ],
  ];
  for (const [name, send] of paths) {
    const { times, sockets } = await timed(send);
    const median = times[MEASURED >> 1]!;
    t.equal(sockets, 1, `${name}: one keep-alive connection`);
    // with the stall the measured requests took 41-93 ms; 20 ms leaves room for a loaded CI machine
    t.ok(median < 20, `${name}: median ${median.toFixed(2)} ms (${times.map((x) => x.toFixed(0)).join(' ')})`);
  }
});
