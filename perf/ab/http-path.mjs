// :10264 keep-alive callers alone (issue 14): the server and the agent as real processes from dist/,
// a plain HTTP sink on the agent's side, C keep-alive callers in this process. Prints req/s, p50 and
// server / agent CPU per 1 000 requests; with PERF_CPU_PROF=<dir> both write a V8 CPU profile of
// only this path there (the bench's profiles mix it with the CONNECT rows of the same processes).
//   node perf/ab/http-path.mjs [requests=20000] [callers=8] [-- extra server flags]
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from '../lib/certs.mjs';
import { appMain, httpGet, waitUntil } from '../lib/chains/edge-tunnel.mjs';
import { spawnProc } from '../lib/procs.mjs';

const dash = process.argv.indexOf('--');
const args = dash < 0 ? process.argv.slice(2) : process.argv.slice(2, dash);
const extra = dash < 0 ? [] : process.argv.slice(dash + 1);
const REQUESTS = Number(args[0] ?? 20000);
const CALLERS = Number(args[1] ?? 8);
const NODE = { name: 'http-node', ip: '127.0.171.2' };
const any = '127.0.0.1:0';

const tmp = await mkdtemp(join(tmpdir(), 'et-http-'));
const certs = await makeCerts(tmp, [NODE]);
const body = Buffer.alloc(64, 'x');
const sink = createServer({ keepAliveTimeout: 60_000 }, (req, res) => res.end(body));
await new Promise((r) => sink.listen(0, NODE.ip, r));
const sinkPort = sink.address().port;
const config = join(await mkdtemp(join(tmp, 'cfg-')), 'ports.yaml'); // not next to the logs (the server watches its directory)
await writeFile(config, `http-proxy-ports: '${sinkPort}'\n`);

const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const port = (a) => Number(String(a).split(':').pop());

const server = spawnProc('server', appMain('@edge-tunnel/server'), [
  '--agent-addr', any, '--https-addr', any, '--http-addr', any, '--meta-addr', any,
  '--cert', certs.path('server', 'crt'), '--key', certs.path('server', 'key'), '--agent-ca', certs.path('ca', 'crt'),
  '--caller-ca', certs.path('ca', 'crt'), '--config', config, '--log-level', 'info', ...extra,
], { node: true, logFile: join(tmp, 'server.log') });
const rec = JSON.parse((await server.waitLine(/"msg":"server listening"/)).input);
const agent = spawnProc('agent', appMain('@edge-tunnel/agent'), [
  '--server', `127.0.0.1:${port(rec.agent)}`, '--node-name', NODE.name, '--node-ip', NODE.ip,
  '--cert', certs.path(`agent-${NODE.name}`, 'crt'), '--key', certs.path(`agent-${NODE.name}`, 'key'),
  '--ca', certs.path('ca', 'crt'), '--meta-addr', `${NODE.ip}:0`, '--allow-ports', String(sinkPort), '--log-level', 'warn',
], { node: true, logFile: join(tmp, 'agent.log') });
await waitUntil('the agent session', async () => (await httpGet(`http://127.0.0.1:${port(rec.meta)}/debug/tunnels`))?.body.includes('"connected": true'));

const http = port(rec.http);
const agents = Array.from({ length: CALLERS }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
const get = (a) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  request({ host: '127.0.0.1', port: http, path: '/small', agent: a, headers: { host: `${NODE.ip}:${sinkPort}` } }, (res) => {
    res.resume().on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode} ${res.headers['x-tunnel-error']}`))));
  }).on('error', reject).end();
});
const run = async (n) => {
  const times = [];
  let left = n;
  await Promise.all(agents.map(async (a) => { while (left-- > 0) times.push(await get(a)); }));
  return times.sort((x, y) => x - y);
};
await run(2000); // warm-up
const cpu0 = { server: cpu(server.pid), agent: cpu(agent.pid) };
const t0 = performance.now();
const times = await run(REQUESTS);
const secs = (performance.now() - t0) / 1000;
const per1000 = (pid, before) => Math.round(((cpu(pid) - before) * 1e6) / REQUESTS);
console.log(`| req/s (${CALLERS} callers) | p50 ms | server CPU ms / 1000 req | agent CPU ms / 1000 req |`);
console.log('| --- | --- | --- | --- |');
console.log(`| ${Math.round(REQUESTS / secs)} | ${times[times.length >> 1].toFixed(3)} | ${per1000(server.pid, cpu0.server)} | ${per1000(agent.pid, cpu0.agent)} |`);
for (const a of agents) a.destroy();
await Promise.all([agent.stop(), server.stop()]);
sink.close();
await rm(tmp, { recursive: true, force: true });
