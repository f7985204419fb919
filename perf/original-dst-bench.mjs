// The per-connection cost of HTTPS passthrough's routing key under iptables capture: the original
// destination from the connection's conntrack entry (@edge-tunnel/capture lookupOriginalDst, one
// `conntrack -L` with reply-tuple filters per accepted connection). Root only: re-runs itself inside
// a throw-away network namespace (et-odst-<pid>, 10.125.250.1 on lo, DNAT 10.126.250.2:10250 → the
// listener in OUTPUT), accepts N sequential connections and times the lookup of each; then again with
// F filler entries in the conntrack table (conntrack -I), since the kernel walks the table per dump.
// Next to it, the alternative not taken: /proc/net/nf_conntrack read and scanned in-process.
//   node perf/original-dst-bench.mjs [--connections 300] [--filler 3000]
import { execFileSync, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { createRunner, lookupOriginalDst, parseOriginalDst } from '@edge-tunnel/capture';

/** @param {string} name @param {number} dflt */
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const N = arg('connections', 300);
const FILLER = arg('filler', 3000);
const LISTEN = '10.125.250.1';
const NODE_IP = '10.126.250.2';

if (process.env.H25_ODST_INSIDE !== '1') {
  if (process.getuid?.() !== 0) throw new Error('root needed: network namespace, iptables, conntrack');
  const ns = `et-odst-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, H25_ODST_INSIDE: '1' },
    });
    process.exitCode = r.status ?? 1;
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
} else {
  const sh = (/** @type {string} */ cmd, /** @type {string[]} */ args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  sh('ip', ['link', 'set', 'lo', 'up']);
  sh('ip', ['addr', 'add', `${LISTEN}/32`, 'dev', 'lo']);
  sh('ip', ['route', 'add', '10.126.0.0/16', 'dev', 'lo']); // a route for the node IP, which DNAT then rewrites
  const server = createServer({ pauseOnConnect: true });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, LISTEN, r)));
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  sh('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-d', NODE_IP, '-p', 'tcp', '--dport', '10250', '-j', 'DNAT', '--to-destination', `${LISTEN}:${port}`]);
  const runner = createRunner({ timeoutMs: 5000 });

  /** @typedef {import('@edge-tunnel/capture').AcceptedTuple} AcceptedTuple */
  const viaCli = (/** @type {AcceptedTuple} */ t) => lookupOriginalDst(runner, t);
  // the alternative measured and not taken: read and scan the kernel's whole table in-process
  /** @type {(t: AcceptedTuple) => Promise<import('@edge-tunnel/capture').OriginalDstResult>} */
  const lookupOriginalDstProc = async (t) => {
    const dst = parseOriginalDst(await readFile('/proc/net/nf_conntrack', 'latin1'), t);
    return dst ? { ok: true, dst } : { ok: false, reason: 'no-entry' };
  };
  /** @param {string} label */
  async function measure(label, lookup = viaCli) {
    /** @type {number[]} */
    const ms = [];
    let found = 0;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      /** @type {Promise<import('node:net').Socket>} */
      const accepted = new Promise((r) => server.once('connection', r));
      const client = connect({ host: NODE_IP, port: 10250 });
      const socket = await accepted;
      const t0 = performance.now();
      const res = await lookup({
        localAddress: socket.localAddress,
        localPort: socket.localPort,
        remoteAddress: socket.remoteAddress,
        remotePort: socket.remotePort,
      });
      ms.push(performance.now() - t0);
      if (res.ok && res.dst.ip === NODE_IP && res.dst.port === 10250) found++;
      socket.destroy();
      client.destroy();
    }
    const cpu = process.cpuUsage(cpu0);
    ms.sort((a, b) => a - b);
    const q = (/** @type {number} */ p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(2);
    const entries = sh('conntrack', ['-C']).trim();
    console.log(`| ${label} | ${entries} | ${N} | ${found} | ${q(0.5)} | ${q(0.9)} | ${q(0.99)} | ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} |`);
  }

  console.log(`original destination lookup, ${new Date().toISOString()}, node ${process.version}, ${sh('conntrack', ['--version']).trim()}`);
  console.log('| lookup, table | conntrack entries | connections | found | p50 ms | p90 ms | p99 ms | server CPU ms/lookup |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  await measure('conntrack -L, as it comes');
  await measure('/proc/net/nf_conntrack, as it comes', lookupOriginalDstProc);
  for (let i = 0; i < FILLER; i++) {
    const a = `10.127.${(i >> 8) & 255}.${i & 255}`;
    spawnSync(
      'conntrack',
      ['-I', '-p', 'tcp', '-s', a, '-d', '10.128.0.1', '--sport', '40000', '--dport', '443', '--state', 'ESTABLISHED', '-t', '600', '-u', 'ASSURED'],
      { stdio: 'ignore' },
    );
  }
  await measure(`conntrack -L, +${FILLER} filler entries`);
  await measure(`/proc/net/nf_conntrack, +${FILLER} filler entries`, lookupOriginalDstProc);
  server.close();
}
