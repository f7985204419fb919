// :10263 keep-alive callers with and without the upstream pool (issue 14): the server and the agent as
// real processes from dist/, an HTTPS sink (RSA-2048, like a kubelet) on the agent's side counting TLS
// handshakes, one caller process (this one). Per variant: handshakes per 50 sequential keep-alive
// requests, server and agent CPU per 1 000 requests (4 keep-alive callers), median / p99 latency.
//   node perf/ab/upstream-pool.mjs [requests=1000]
// Variants: --upstream-pool-size=0 (a stream and a TLS handshake per request, the old path) and the
// default pool. Numbers on a shared machine are noisy: compare the two rows of one run.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent, createServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCallerCert, issueServerCert } from '@edge-tunnel/pki';
import { makeCerts } from '../lib/certs.mjs';
import { appMain, httpGet, waitUntil } from '../lib/chains/edge-tunnel.mjs';
import { spawnProc } from '../lib/procs.mjs';

const REQUESTS = Number(process.argv[2] ?? 1000);
const CALLERS = 4;
const NODE = { name: 'pool-node', ip: '127.0.171.1' };
const any = '127.0.0.1:0';

const tmp = await mkdtemp(join(tmpdir(), 'et-pool-'));
const certs = await makeCerts(tmp, [NODE]);
const serving = await issueServerCert(certs.ca, { dnsNames: [], ips: [NODE.ip] });
let handshakes = 0;
const sink = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => res.end('{"ok":true}\n'));
sink.on('secureConnection', () => (handshakes += 1));
await /** @type {Promise<void>} */ (new Promise((r) => sink.listen(0, NODE.ip, r)));
const sinkPort = /** @type {import('node:net').AddressInfo} */ (sink.address()).port;
const config = join(tmp, 'ports.yaml');
await writeFile(config, `https-proxy-ports: '${sinkPort}'\n`);
const caller = await issueCallerCert(certs.ca);
const callerTls = { cert: caller.certPem, key: caller.keyPem, ca: certs.caPem, servername: 'localhost' };

/** CPU seconds (user + system) of a process so far. */
/** @param {number} pid */
function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** @param {string} name @param {string[]} flags */
async function variant(name, flags) {
  const server = spawnProc(
    `server-${name}`,
    appMain('@edge-tunnel/server'),
    [
      '--agent-addr',
      any,
      '--https-addr',
      any,
      '--http-addr',
      any,
      '--meta-addr',
      any,
      '--cert',
      certs.path('server', 'crt'),
      '--key',
      certs.path('server', 'key'),
      '--agent-ca',
      certs.path('ca', 'crt'),
      '--caller-ca',
      certs.path('ca', 'crt'),
      '--kubelet-client-cert',
      certs.path('kubelet-client', 'crt'),
      '--kubelet-client-key',
      certs.path('kubelet-client', 'key'),
      '--config',
      config,
      '--log-level',
      'info',
      ...flags,
    ],
    { node: true, logFile: join(tmp, `server-${name}.log`) },
  );
  const rec = JSON.parse((await server.waitLine(/"msg":"server listening"/)).input);
  const port = (/** @type {string} */ a) => Number(String(a).split(':').pop());
  const agent = spawnProc(
    `agent-${name}`,
    appMain('@edge-tunnel/agent'),
    [
      '--server',
      `127.0.0.1:${port(rec.agent)}`,
      '--node-name',
      NODE.name,
      '--node-ip',
      NODE.ip,
      '--cert',
      certs.path(`agent-${NODE.name}`, 'crt'),
      '--key',
      certs.path(`agent-${NODE.name}`, 'key'),
      '--ca',
      certs.path('ca', 'crt'),
      '--meta-addr',
      `${NODE.ip}:0`,
      '--allow-ports',
      String(sinkPort),
      '--log-level',
      'warn',
    ],
    { node: true, logFile: join(tmp, `agent-${name}.log`) },
  );
  await waitUntil('the agent session', async () => (await httpGet(`http://127.0.0.1:${port(rec.meta)}/debug/tunnels`))?.body.includes('"connected": true'));
  const https = port(rec.https);
  const agents = Array.from({ length: CALLERS }, () => new HttpsAgent({ keepAlive: true, maxSockets: 1 }));
  /** @param {HttpsAgent} agent @returns {Promise<number>} */
  const get = (agent) =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      request({ host: '127.0.0.1', port: https, path: '/stats/summary', agent, headers: { host: `${NODE.ip}:${sinkPort}` }, ...callerTls }, (res) => {
        res
          .resume()
          .on('end', () =>
            res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode} ${res.headers['x-tunnel-error']}`)),
          );
      })
        .on('error', reject)
        .end();
    });
  const before = handshakes;
  /** @type {number[]} */
  const times = [];
  for (let i = 0; i < 50; i++) times.push(await get(agents[0]));
  const per50 = handshakes - before;
  const cpu0 = { server: cpu(server.pid), agent: cpu(agent.pid) };
  const t0 = performance.now();
  let left = REQUESTS;
  await Promise.all(
    agents.map(async (a) => {
      while (left-- > 0) await get(a);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const per1000 = (/** @type {import('../lib/procs.mjs').Proc} */ p) => ((cpu(p.pid) - cpu0[p === server ? 'server' : 'agent']) * 1000 * 1000) / REQUESTS;
  const row = {
    variant: name,
    handshakesPer50: per50,
    reqPerSec: Math.round(REQUESTS / secs),
    serverCpuMsPer1000: Math.round(per1000(server)),
    agentCpuMsPer1000: Math.round(per1000(agent)),
    p50Ms: +times.sort((a, b) => a - b)[25].toFixed(2),
    p99Ms: +times[49].toFixed(2),
  };
  for (const a of agents) a.destroy();
  await Promise.all([agent.stop(), server.stop()]);
  return row;
}

const rows = [await variant('no-pool', ['--upstream-pool-size', '0']), await variant('pool', [])];
console.log(
  `| variant | TLS handshakes / 50 keep-alive requests | req/s (${CALLERS} callers) | server CPU ms / 1000 req | agent CPU ms / 1000 req | p50 ms | p99 ms |`,
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(`| ${r.variant} | ${r.handshakesPer50} | ${r.reqPerSec} | ${r.serverCpuMsPer1000} | ${r.agentCpuMsPer1000} | ${r.p50Ms} | ${r.p99Ms} |`);
sink.close();
await rm(tmp, { recursive: true, force: true });
