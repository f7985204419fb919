// The floor of the `reqs` target on :10264 (issue 14): with no tunnel at all, what does a Node process
// that terminates HTTP (parse the request, http.request on a keep-alive Agent, parse the answer, write
// it back) cost against one that relays the bytes (what the CONNECT chain does per request once the
// CONNECT is through)? Both in a child process between the same keep-alive callers (this process)
// and the same HTTP sink (another child), alternating rounds. Prints req/s, p50 and the middle
// process's CPU per 1 000 requests, and the ratio that bounds any HTTP-terminating Node proxy here.
// `--tls`: the :10263 floor, HTTPS sink (RSA-2048), the relay passes the caller's TLS through (as
// CONNECT does), the proxy terminates it and originates TLS to the sink on a keep-alive Agent.
// `--size=<bytes>`: the answer's size (default 64; the `reqs` scenario's big case is 102400), sent
// with a Content-Length in one write, as perf/lib/http-sink.mjs does.
//   node perf/ab/http-floor.mjs [--tls] [--size=64] [seconds per round=3] [callers=8] [rounds=3]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from '../lib/certs.mjs';

const TLS = process.argv.includes('--tls');
const SIZE = Number(process.argv.find((a) => a.startsWith('--size='))?.slice('--size='.length) ?? 64);
const [SECS = 3, CALLERS = 8, ROUNDS = 3] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map(Number);
const HOST = '127.0.0.1';
const tmp = await mkdtemp(join(tmpdir(), 'et-floor-'));
const certs = TLS ? await makeCerts(tmp, []) : undefined;
const env = TLS ? { ...process.env, CERT: certs.pem('server', 'crt'), KEY: certs.pem('server', 'key') } : process.env;
const mod = TLS ? 'node:https' : 'node:http';
const serving = TLS ? '{ cert: process.env.CERT, key: process.env.KEY, keepAliveTimeout: 60000 }' : '{ keepAliveTimeout: 60000 }';

const SINK = `const b = Buffer.alloc(${SIZE}, 'x'); require('${mod}').createServer(${serving}, (q, s) => s.end(b))
  .listen(0, '${HOST}', function () { console.log(this.address().port); });`;
const RELAY = (
  /** @type {number} */ to,
) => `const net = require('node:net'); net.createServer((c) => { const u = net.connect(${to}, '${HOST}'); c.setNoDelay(true); u.setNoDelay(true); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); })
  .listen(0, '${HOST}', function () { console.log(this.address().port); });`;
const PROXY = (
  /** @type {number} */ to,
) => `const http = require('${mod}'); const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 8, rejectUnauthorized: false });
  http.createServer(${serving}, (req, res) => {
    const up = http.request({ host: '${HOST}', port: ${to}, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => { res.writeHead(ur.statusCode, ur.headers); ur.pipe(res); });
    up.on('error', () => res.destroy()); req.pipe(up);
  }).listen(0, '${HOST}', function () { console.log(this.address().port); });`;

/** @param {string} code a Node script that prints its port @returns {Promise<{ proc: import('node:child_process').ChildProcess, port: number }>} */
async function child(code) {
  const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const [line] = await once(p.stdout, 'data');
  return { proc: p, port: Number(String(line).trim()) };
}
const cpu = (/** @type {number} */ pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

/** @typedef {{ rps: number, p50: number, cpuPer1000: number }} RoundResult */
/** @param {{ proc: import('node:child_process').ChildProcess, port: number }} mid @returns {Promise<RoundResult>} */
async function round(mid) {
  const agents = Array.from(
    { length: CALLERS },
    () => new (TLS ? HttpsAgent : Agent)(/** @type {import('node:https').AgentOptions} */ ({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })),
  );
  /** @param {Agent} a @returns {Promise<number>} */
  const get = (a) =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      (TLS ? httpsRequest : request)({ host: HOST, port: mid.port, path: '/small', agent: a }, (res) =>
        res.resume().on('end', () => resolve(performance.now() - t0)),
      )
        .on('error', reject)
        .end();
    });
  /** @type {number[]} */
  const times = [];
  const c0 = cpu(mid.proc.pid);
  const end = performance.now() + SECS * 1000;
  const started = performance.now();
  await Promise.all(
    agents.map(async (a) => {
      while (performance.now() < end) times.push(await get(a));
    }),
  );
  const secs = (performance.now() - started) / 1000;
  const cpuMs = (cpu(mid.proc.pid) - c0) * 1000;
  for (const a of agents) a.destroy();
  times.sort((x, y) => x - y);
  return { rps: times.length / secs, p50: times[times.length >> 1], cpuPer1000: (cpuMs * 1000) / times.length };
}

const sink = await child(SINK);
const mids = {
  [TLS ? 'byte relay (caller TLS passes through)' : 'byte relay (per connection)']: await child(RELAY(sink.port)),
  [TLS ? 'Node HTTPS proxy (terminates, originates TLS on a keep-alive Agent)' : 'Node HTTP proxy (keep-alive Agent)']: await child(PROXY(sink.port)),
};
/** @type {Record<string, RoundResult[]>} */
const results = Object.fromEntries(Object.keys(mids).map((k) => /** @type {[string, RoundResult[]]} */ ([k, []])));
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? Object.keys(mids) : Object.keys(mids).reverse();
  for (const name of order) results[name].push(await round(mids[name]));
}
const med = (/** @type {number[]} */ xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `| middle process (${TLS ? 'HTTPS, ' : ''}${CALLERS} keep-alive callers, ${SIZE} B answers, median of ${ROUNDS} rounds of ${SECS} s) | req/s | p50 ms | its CPU ms / 1000 req |`,
);
console.log('| --- | --- | --- | --- |');
const rows = Object.entries(results).map(([name, rs]) => ({
  name,
  rps: med(rs.map((x) => x.rps)),
  p50: med(rs.map((x) => x.p50)),
  cpu: med(rs.map((x) => x.cpuPer1000)),
}));
for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.rps)} | ${r.p50.toFixed(3)} | ${Math.round(r.cpu)} |`);
console.log(`\nNode HTTP proxy ÷ byte relay: req/s ${(rows[1].rps / rows[0].rps).toFixed(2)}, p50 ${(rows[1].p50 / rows[0].p50).toFixed(2)}`);
for (const p of [sink, ...Object.values(mids)]) p.proc.kill();
await rm(tmp, { recursive: true, force: true });
