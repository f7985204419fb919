// :10264 keep-alive callers (issue 14): the server and the agent as real processes from dist/, a
// plain HTTP sink on the agent's side, C keep-alive callers in this process. Prints req/s, p50 and
// server / agent CPU per 1 000 requests split into user and system time (/proc), for `:10264` and,
// with --connect, for the CONNECT frontend of the same processes in alternating rounds. With
// PERF_CPU_PROF=<dir> (and without --connect) both write a V8 CPU profile of only the :10264 path
// there (the bench's profiles mix it with the CONNECT rows). V8's profiler samples wall time: on a
// loaded machine a descheduled process shows up as time in its last native call (often writev).
//   node perf/ab/http-path.mjs [--connect] [requests=20000] [callers=8] [-- extra server flags]
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from '../lib/certs.mjs';
import { appMain, httpGet, waitUntil } from '../lib/chains/edge-tunnel.mjs';
import { spawnProc } from '../lib/procs.mjs';

const dash = process.argv.indexOf('--');
const CONNECT = process.argv.includes('--connect');
const args = (dash < 0 ? process.argv.slice(2) : process.argv.slice(2, dash)).filter((a) => a !== '--connect');
const extra = dash < 0 ? [] : process.argv.slice(dash + 1);
const REQUESTS = Number(args[0] ?? 20000);
const CALLERS = Number(args[1] ?? 8);
const NODE = { name: 'http-node', ip: '127.0.171.2' };
const any = '127.0.0.1:0';

const tmp = await mkdtemp(join(tmpdir(), 'et-http-'));
const certs = await makeCerts(tmp, [NODE]);
const body = Buffer.alloc(64, 'x');
const sink = createServer({ keepAliveTimeout: 60_000 }, (req, res) => res.end(body));
await /** @type {Promise<void>} */ (new Promise((r) => sink.listen(0, NODE.ip, r)));
const sinkPort = /** @type {import('node:net').AddressInfo} */ (sink.address()).port;
const config = join(await mkdtemp(join(tmp, 'cfg-')), 'ports.yaml'); // not next to the logs (the server watches its directory)
await writeFile(config, `http-proxy-ports: '${sinkPort}'\n`);

/** CPU seconds of a process so far: [user, system]. */
const cpu = (/** @type {number} */ pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return [Number(f[11]) / 100, Number(f[12]) / 100];
};

/** An Agent whose connections are a CONNECT through the server's frontend, then keep-alive HTTP. */
class ConnectAgent extends Agent {
  /** @param {number} port the CONNECT frontend's @param {string} target 'ip:port' */
  constructor(port, target) {
    super({ keepAlive: true, maxSockets: 1 });
    this.port = port;
    this.target = target;
  }

  /**
   * @param {import('node:http').ClientRequestArgs} _options
   * @param {(err: Error | null, stream?: import('node:stream').Duplex) => void} cb
   * @returns {undefined} nothing: the socket goes to `cb` once the CONNECT is answered
   */
  createConnection(_options, cb) {
    const socket = netConnect(this.port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.write(`CONNECT ${this.target} HTTP/1.1\r\nHost: ${this.target}\r\n\r\n`);
    let head = '';
    const onData = (/** @type {Buffer} */ chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 200')) return cb(new Error(`CONNECT: ${head.split('\r\n')[0]}`));
      cb(null, socket);
    };
    socket.on('data', onData).once('error', cb);
  }
}
const port = (/** @type {string} */ a) => Number(String(a).split(':').pop());

const server = spawnProc(
  'server',
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
    '--config',
    config,
    '--log-level',
    'info',
    '--connect-addr',
    any,
    ...extra,
  ],
  { node: true, logFile: join(tmp, 'server.log') },
);
const rec = JSON.parse((await server.waitLine(/"msg":"server listening"/)).input);
const agent = spawnProc(
  'agent',
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
  { node: true, logFile: join(tmp, 'agent.log') },
);
await waitUntil('the agent session', async () => (await httpGet(`http://127.0.0.1:${port(rec.meta)}/debug/tunnels`))?.body.includes('"connected": true'));

const target = `${NODE.ip}:${sinkPort}`;
const paths = {
  ':10264': () => ({ port: port(rec.http), agents: Array.from({ length: CALLERS }, () => new Agent({ keepAlive: true, maxSockets: 1 })) }),
  ...(CONNECT
    ? { CONNECT: () => ({ port: port(rec.connect), agents: Array.from({ length: CALLERS }, () => new ConnectAgent(port(rec.connect), target)) }) }
    : {}),
};
/** @param {number} p @param {Agent} a @returns {Promise<number>} */
const get = (p, a) =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    request({ host: '127.0.0.1', port: p, path: '/small', agent: a, headers: { host: target } }, (res) => {
      res
        .resume()
        .on('end', () =>
          res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode} ${res.headers['x-tunnel-error']}`)),
        );
    })
      .on('error', reject)
      .end();
  });
/** @param {{ port: number, agents: Agent[] }} callers @param {number} n */
const run = async ({ port: p, agents }, n) => {
  /** @type {number[]} */
  const times = [];
  let left = n;
  await Promise.all(
    agents.map(async (a) => {
      while (left-- > 0) times.push(await get(p, a));
    }),
  );
  return times.sort((x, y) => x - y);
};
const per1000 = (/** @type {number[]} */ after, /** @type {number[]} */ before) => after.map((x, i) => Math.round(((x - before[i]) * 1e6) / REQUESTS));
/** @typedef {{ rps: number, p50: number, server: number[], agent: number[] }} PathRound */
/** @type {Record<string, PathRound[]>} */
const rows = Object.fromEntries(Object.keys(paths).map((name) => /** @type {[string, PathRound[]]} */ ([name, []])));
const callers = Object.fromEntries(Object.entries(paths).map(([name, make]) => [name, make()]));
for (const c of Object.values(callers)) await run(c, 2000); // warm-up (and the CONNECTs)
const ROUNDS = CONNECT ? 3 : 1;
for (let r = 0; r < ROUNDS; r++) {
  for (const name of r % 2 ? Object.keys(paths).reverse() : Object.keys(paths)) {
    const c0 = { server: cpu(server.pid), agent: cpu(agent.pid) };
    const t0 = performance.now();
    const times = await run(callers[name], REQUESTS);
    const secs = (performance.now() - t0) / 1000;
    rows[name].push({
      rps: REQUESTS / secs,
      p50: times[times.length >> 1],
      server: per1000(cpu(server.pid), c0.server),
      agent: per1000(cpu(agent.pid), c0.agent),
    });
  }
}
const med = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `| path (${CALLERS} callers, 64 B, median of ${ROUNDS} round(s) of ${REQUESTS} requests) | req/s | p50 ms | server CPU ms / 1000 req (user + system) | agent CPU ms / 1000 req (user + system) |`,
);
console.log('| --- | --- | --- | --- | --- |');
for (const [name, rs] of Object.entries(rows)) {
  const split = (/** @type {'server' | 'agent'} */ role) =>
    `${med(rs.map((x) => x[role][0] + x[role][1]))} (${med(rs.map((x) => x[role][0]))} + ${med(rs.map((x) => x[role][1]))})`;
  console.log(`| ${name} | ${Math.round(med(rs.map((x) => x.rps)))} | ${med(rs.map((x) => x.p50)).toFixed(3)} | ${split('server')} | ${split('agent')} |`);
}
for (const c of Object.values(callers)) for (const a of c.agents) a.destroy();
await Promise.all([agent.stop(), server.stop()]);
sink.close();
await rm(tmp, { recursive: true, force: true });
