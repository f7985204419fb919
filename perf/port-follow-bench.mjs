// Port following at scale. Two modes, the same N following agents (lib/follow-agents.mjs: real TLS
// sessions on loopback, each applying its CONFIG with the agent's own AllowList, all in this process):
//
//   --via source (default): the server's PortAnnouncer (apps/server) in this process, fed by a
//     source the bench drives. Measured: the parse of the config text, the server's fan-out (encode
//     once + one CONFIG write per session), change event → the last agent applied it.
//   --via kubectl: the operator's path. The real server process in cluster mode against the fake API
//     server, and the real `kubectl apply -f -` of ConfigMap kube-system/edge-tunnel-server-cfg.
//     Measured from the start of kubectl: its exit, the last of the N agents following, and (DNS
//     capture) the internal Service holding the configured ports.
// Both modes also report CPU time per change (this process; in kubectl mode the server process too):
// on a shared machine the wall times above mostly wait for a core, the CPU times do not.
//
// Shapes: the brief's edit (9053 added to '9051=10264,9052=10264', then removed again), E consecutive
// ports (one range) and E scattered ports (the bitmap form).
//
//   node perf/port-follow-bench.mjs [--via source|kubectl] [--agents 1000] [--entries 10000] [--rounds 3]
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parsePortConfig } from '@edge-tunnel/dnat';
import { PortAnnouncer } from '@edge-tunnel/server';
import { makeCerts } from './lib/certs.mjs';
import { connectFollowers, portEntries } from './lib/follow-agents.mjs';
import { startClusterFollow } from './lib/port-follow-cluster.mjs';

/** @param {string} name @param {string | number} def */
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const VIA = arg('via', 'source');
const AGENTS = Number(arg('agents', 1000));
const ENTRIES = Number(arg('entries', 10_000));
const ROUNDS = Number(arg('rounds', 3));
if (VIA !== 'source' && VIA !== 'kubectl') throw new Error(`--via ${VIA}: source or kubectl`);
/** a stub of the server's (pino) logger: the methods the announcer calls, all silent @type {ConstructorParameters<typeof PortAnnouncer>[1]} */
const silent = /** @type {any} */ ({
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
});
const progress = (/** @type {string} */ s) => process.stderr.write(`${s}\n`);

/** A port config source the bench drives (the file and ConfigMap sources emit the same way). */
class BenchSource extends EventEmitter {
  constructor() {
    super();
    /** @type {import('@edge-tunnel/server').PortConfigState} */
    this.state = { config: parsePortConfig({}).config, rejected: [], source: 'bench', loadedAt: new Date() };
  }
  current() {
    return this.state;
  }
  /** @param {Record<string, string>} data */
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

/**
 * The in-process announcer and its followers; apply() as the cluster mode's, plus parse and fan-out.
 * @param {import('./lib/certs.mjs').Certs} certs
 */
async function startSourceFollow(certs) {
  const source = new BenchSource();
  const announcer = new PortAnnouncer(source, silent);
  const server = tls.createServer({ cert: certs.server.certPem, key: certs.server.keyPem });
  /** @type {{ session: import('@edge-tunnel/framing').Session }[]} */
  const serverSessions = [];
  server.on('secureConnection', (socket) => {
    import('@edge-tunnel/framing').then(({ Session }) => {
      const session = new Session(socket, { role: 'server', keepaliveIntervalMs: 600_000, keepaliveTimeoutMs: 1_200_000, maxControlPerSecond: 1_000_000 });
      session.ready.then(
        (hello) => {
          const agent = /** @type {any} */ ({ nodeName: hello.nodeName, session, ports: {} });
          serverSessions.push(agent);
          announcer.attach(agent);
        },
        () => {},
      );
    });
  });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
  const t0 = performance.now();
  const followers = await connectFollowers({
    host: '127.0.0.1',
    port: /** @type {import('node:net').AddressInfo} */ (server.address()).port,
    ca: certs.caPem,
    n: AGENTS,
    identity: (i) => ({ name: `edge-${i}`, ip: '10.0.0.1' }),
  });
  await followers.until((a) => a.rev >= 1);
  const attachMs = performance.now() - t0;
  source.apply({ 'dnat-ports-pair': '9051=10264,9052=10264' });
  await followers.until((a) => followers.allows(a, 9052));
  return {
    followers,
    attachMs,
    /**
     * @param {Record<string, string>} data @param {(a: import('./lib/follow-agents.mjs').Follower) => boolean} done
     * @param {number} [_servicePorts] the cluster mode's; no Service here
     */
    async apply(data, done, _servicePorts) {
      const all = followers.until(done);
      const { parseMs, changedAt } = source.apply(data);
      const lastAt = await all;
      return { parseMs, fanOutMs: announcer.lastFanOutMs, allFollowedMs: lastAt - changedAt, payloadBytes: announcer['payload'].length };
    },
    /** @type {(() => number) | undefined} no server process here */
    serverCpuMs: undefined,
    async close() {
      followers.close();
      for (const s of serverSessions) s.session.destroy();
      server.close();
      announcer.close();
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'et-port-follow-bench-'));
const certs = await makeCerts(dir, []);
const run = VIA === 'source' ? await startSourceFollow(certs) : await startClusterFollow({ dir, certs, agents: AGENTS, progress });
const { followers } = run;
const BRIEF = '9051=10264,9052=10264';
const pairs = (/** @type {number[]} */ ports) => ports.map((p) => `${p}=10264`).join(',');

/** @type {Record<string, any>[]} */
const rows = [];
for (let round = 0; round < ROUNDS; round++) {
  /** @type {{ shape: string, text: string, probe: number, open: boolean, servicePorts: number, back?: boolean }[]} */
  const cases = [
    { shape: 'brief + 9053', text: `${BRIEF},9053=10264`, probe: 9053, open: true, servicePorts: 5 },
    { shape: 'brief (9053 removed)', text: BRIEF, probe: 9053, open: false, servicePorts: 4 },
    ...['consecutive', 'scattered'].map((shape) => {
      const ports = portEntries(shape, ENTRIES, 7 + round);
      return { shape: `${ENTRIES} ${shape}`, text: pairs(ports), probe: ports.at(-1), open: true, servicePorts: ENTRIES + 2, back: true };
    }),
  ];
  for (const c of cases) {
    progress(`round ${round + 1}: ${c.shape}`);
    const cpu0 = process.cpuUsage();
    const server0 = run.serverCpuMs?.();
    /** @type {Record<string, any>} */
    const r = await run.apply({ 'dnat-ports-pair': c.text }, (a) => followers.allows(a, c.probe) === c.open, c.servicePorts);
    const cpu = process.cpuUsage(cpu0);
    r.benchCpuMs = (cpu.user + cpu.system) / 1000;
    r.serverCpuMs = server0 === undefined ? undefined : run.serverCpuMs() - server0;
    const applies = followers.agents.map((a) => a.applyMs).sort((x, y) => x - y);
    rows.push({ round, shape: c.shape, ...r, applyMedianMs: applies[applies.length >> 1] });
    // back to the brief's config after a large one, so that every apply is a change
    if (c.back) await run.apply({ 'dnat-ports-pair': BRIEF }, (a) => !followers.allows(a, c.probe), 4);
  }
}

const f = (/** @type {number | undefined} */ n) => (Number.isNaN(n) || n === undefined ? '—' : n.toFixed(1));
console.log(`port following (--via ${VIA}): ${AGENTS} agents (TLS sessions on loopback, one process); attach of all agents ${f(run.attachMs)} ms`);
if (VIA === 'source') {
  console.log(
    "| round | shape | parse (ms) | server fan-out (ms) | change → all agents applied (ms) | CPU of the process (ms) | one agent's apply, median (ms) | CONFIG payload (bytes) |",
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.round + 1} | ${r.shape} | ${f(r.parseMs)} | ${f(r.fanOutMs)} | ${f(r.allFollowedMs)} | ${f(r.benchCpuMs)} | ${r.applyMedianMs.toFixed(2)} | ${r.payloadBytes} |`,
    );
} else {
  console.log(
    "| round | shape | kubectl apply exits (ms) | kubectl apply → all agents follow (ms) | kubectl apply → internal Service ports (ms) | server CPU (ms) | agents + API CPU (ms) | one agent's apply, median (ms) |",
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.round + 1} | ${r.shape} | ${f(r.kubectlMs)} | ${f(r.allFollowedMs)} | ${f(r.serviceMs)} | ${f(r.serverCpuMs)} | ${f(r.benchCpuMs)} | ${r.applyMedianMs.toFixed(2)} |`,
    );
}
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
await run.close();
rmSync(dir, { recursive: true, force: true });
