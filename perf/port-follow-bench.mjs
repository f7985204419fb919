// Port following at scale: N agents attached to one server's PortAnnouncer (apps/server) over real
// TLS sessions on loopback, each applying what it gets with the agent's own AllowList (apps/agent),
// all in this process. A port config of E dnat-ports-pair entries is applied; measured: the parse of
// the config text, the server's fan-out (encode once + one CONFIG write per session), and the time
// from the config change until the last agent has applied it. Two shapes: E consecutive ports (one
// range) and E scattered ports (the bitmap form).
//
//   node perf/port-follow-bench.mjs [--agents 1000] [--entries 10000] [--rounds 3]
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { AllowList } from '@edge-tunnel/agent';
import { parseAgentPortsMessage, parsePortConfig } from '@edge-tunnel/dnat';
import { Session } from '@edge-tunnel/framing';
import { PortAnnouncer } from '@edge-tunnel/server';
import { makeCerts } from './lib/certs.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const AGENTS = arg('agents', 1000);
const ENTRIES = arg('entries', 10_000);
const ROUNDS = arg('rounds', 3);
const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };

/** A port config source the bench drives (the file and ConfigMap sources emit the same way). */
class BenchSource extends EventEmitter {
  constructor() {
    super();
    this.state = { config: parsePortConfig({}).config, rejected: [], source: 'bench', loadedAt: new Date() };
  }
  current() { return this.state; }
  apply(data) {
    const t0 = performance.now();
    const { config, rejected } = parsePortConfig(data);
    const parseMs = performance.now() - t0;
    this.state = { config, rejected, source: 'bench', loadedAt: new Date() };
    const changedAt = performance.now();
    this.emit('change', this.state);
    return { parseMs, changedAt, rejected: rejected.length };
  }
  close() {}
}

const dir = mkdtempSync(join(tmpdir(), 'et-port-follow-bench-'));
const certs = await makeCerts(dir, []);
const source = new BenchSource();
const announcer = new PortAnnouncer(source, silent);

const server = tls.createServer({ cert: certs.server.certPem, key: certs.server.keyPem });
const serverSessions = [];
server.on('secureConnection', (socket) => {
  const session = new Session(socket, { role: 'server', keepaliveIntervalMs: 600_000, keepaliveTimeoutMs: 1_200_000, maxControlPerSecond: 1_000_000 });
  session.ready.then((hello) => {
    const agent = { nodeName: hello.nodeName, session, ports: {} };
    serverSessions.push(agent);
    announcer.attach(agent);
  }, () => {});
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address();

/** One agent: its session and allow-list; `applied` is the last rev it applied and when. */
const agents = [];
const connectOne = (i) => new Promise((resolve, reject) => {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.caPem, servername: 'localhost' });
  socket.once('secureConnect', () => {
    const name = `edge-${i}`;
    const allowList = new AllowList({ nodeName: name, nodeIps: ['10.0.0.1'], localhostPorts: [] });
    const session = new Session(socket, { role: 'client', config: true, hello: { nodeName: name }, keepaliveIntervalMs: 600_000, keepaliveTimeoutMs: 1_200_000 });
    const a = { session, allowList, rev: 0, at: 0 };
    session.on('config', (msg) => {
      const started = performance.now();
      const ports = parseAgentPortsMessage(msg);
      allowList.follow(ports);
      a.applyMs = performance.now() - started;
      a.rev = ports.rev;
      a.at = performance.now();
      if (waiting && agents.every((x) => x.rev >= waiting.rev)) waiting.resolve();
    });
    agents.push(a);
    session.ready.then(() => resolve(), reject);
  });
  socket.once('error', reject);
});
let waiting;

const t0 = performance.now();
for (let i = 0; i < AGENTS; i += 50) await Promise.all(Array.from({ length: Math.min(50, AGENTS - i) }, (_, k) => connectOne(i + k)));
while (serverSessions.length < AGENTS) await new Promise((r) => setTimeout(r, 10));
const attachMs = performance.now() - t0;
// every agent got rev 1 at attach
while (!agents.every((a) => a.rev >= 1)) await new Promise((r) => setTimeout(r, 10));

function entries(shape, seed) {
  const ports = [];
  if (shape === 'consecutive') for (let p = 20_000; p < 20_000 + ENTRIES; p++) ports.push(p);
  else {
    let x = seed;
    const taken = new Set([10250, 10255, 10262, 10263, 10264, 10265, 10266]);
    while (ports.length < ENTRIES) {
      x = (x * 48_271) % 2_147_483_647;
      const p = 1 + (x % 65_535);
      if (taken.has(p)) continue;
      taken.add(p);
      ports.push(p);
    }
  }
  return ports.map((p) => `${p}=10264`).join(',');
}

const rows = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const shape of ['consecutive', 'scattered']) {
    const text = entries(shape, 7 + round);
    const rev = announcer['rev'] + 1;
    const done = new Promise((resolve) => (waiting = { rev, resolve }));
    const { parseMs, changedAt, rejected } = source.apply({ 'dnat-ports-pair': text });
    await done;
    waiting = undefined;
    const lastAt = Math.max(...agents.map((a) => a.at));
    const probe = agents[AGENTS - 1].allowList.check('10.0.0.1', Number(text.split('=')[0]));
    const applies = agents.map((a) => a.applyMs).sort((x, y) => x - y);
    rows.push({
      round, shape, parseMs, fanOutMs: announcer.lastFanOutMs, allAppliedMs: lastAt - changedAt,
      payloadBytes: announcer['payload'].length, rejected, ok: probe.allowed, applyMedianMs: applies[applies.length >> 1],
    });
    // back to an empty config between shapes, so every apply is a change
    const back = announcer['rev'] + 1;
    const empty = new Promise((resolve) => (waiting = { rev: back, resolve }));
    source.apply({});
    await empty;
    waiting = undefined;
  }
}

const f = (n) => n.toFixed(1);
console.log(`port following: ${AGENTS} agents (TLS sessions on loopback, one process), ${ENTRIES} dnat-ports-pair entries; attach of all agents ${f(attachMs)} ms`);
console.log('| round | shape | parse (ms) | server fan-out (ms) | change → all agents applied (ms) | one agent\'s apply, median (ms) | CONFIG payload (bytes) | probe allowed |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.round + 1} | ${r.shape} | ${f(r.parseMs)} | ${f(r.fanOutMs)} | ${f(r.allAppliedMs)} | ${r.applyMedianMs.toFixed(2)} | ${r.payloadBytes} | ${r.ok} |`);
console.log(`load average at the end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const a of agents) a.session.destroy();
for (const s of serverSessions) s.session.destroy();
server.close();
announcer.close();
rmSync(dir, { recursive: true, force: true });
