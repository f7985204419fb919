// A measurement (not a test): cubic vs BBR goodput over the testbed's delay line at 300 ms RTT and
// 20 Mbit/s, at 0 / 1 / 5 % loss each way — plain iperf3 from edge-1 to the cloud over the line, and a
// download through the tunnel (curl in the cloud → DNAT → server → agent → an HTTP server on edge-1),
// whose bulk direction is the agent's socket: its congestion control is the edge namespace's
// net.ipv4.tcp_congestion_control, set before the agent's connection is replaced (ss -K, resume).
// A namespace may only default to a congestion control in the host's tcp_allowed_congestion_control
// (here `reno bbr`; cubic gives EPERM), so the tunnel runs compare reno (loss-based, like cubic) with
// BBR; iperf3 sets its socket's own (-C) and runs cubic, reno and BBR.
// Root, netns; built testbed (npx tsc -p tsconfig.build.json). Run under the perf lock:
//   cd tools/testbed && flock /tmp/et-perf.lock node bench/weak-link-goodput.mjs [--seconds 20] [--loss 0,1,5] [--queue-ms 100] [--loss-dir both|up]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startTestbed } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    loss: { type: 'string', default: '0,1,5' },
    'queue-ms': { type: 'string', default: '100' },
    'loss-dir': { type: 'string', default: 'both' },
  },
});
const seconds = Number(values.seconds);
const losses = values.loss.split(',').map(Number);
const queueMs = Number(values['queue-ms']);
const PORT = 18080; // on edge-1's node IP, in its own namespace
// --loss-dir up: loss on the data direction only (edge → cloud), the ACKs' way clean
const shape = (lossPct) => ({ delayMs: 150, rateMbit: 20, lossPct, queueMs, seed: 17, ...(values['loss-dir'] === 'up' ? { down: { lossPct: 0 } } : {}) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

console.log(`uptime before: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
const tb = await startTestbed({
  edges: 1,
  exporterOn: [],
  weakLink: shape(0),
  agentAllowPorts: [PORT],
  portConfig: { 'dnat-ports-pair': `${PORT}=10264` },
});
const rows = [];
try {
  const edge = tb.edges[0];
  const www = join(tb.dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'bulk'), randomBytes(96 * 1024 * 1024));
  tb.spawn(edge.ns, 'http', 'python3', ['-m', 'http.server', '--bind', edge.ip, '--directory', www, String(PORT)]);
  await sleep(1_000);

  const iperf = async (cc) => {
    const server = tb.spawn(tb.cloudNs, 'iperf3-server', 'iperf3', ['-s', '-1', '-B', tb.lbAddress]);
    await sleep(500);
    const r = await tb.exec(edge.ns, 'iperf3', ['-c', tb.lbAddress, '-t', String(seconds), '-C', cc, '-J'], (seconds + 30) * 1000);
    await server.stop();
    const j = JSON.parse(r.stdout);
    return { mbit: j.end.sum_received.bits_per_second / 1e6, retransmits: j.end.sum_sent.retransmits };
  };
  const tunnel = async (cc) => {
    const set = await tb.exec(edge.ns, 'sysctl', ['-qw', `net.ipv4.tcp_congestion_control=${cc}`]);
    if (set.code !== 0) throw new Error(`sysctl tcp_congestion_control=${cc} in the edge namespace: ${set.stderr.trim()}`);
    // the agent's connection is replaced (the session resumes) so that its new socket gets `cc`
    await tb.exec(edge.ns, 'ss', ['-K', '-tn', 'state', 'established', '( dport = :10262 )']);
    await sleep(3_000);
    await tb.waitForTunnels();
    const cong = (await tb.exec(edge.ns, 'ss', ['-Htni', 'state', 'established', '( dport = :10262 )'])).stdout.match(/\b(cubic|bbr|reno)\b/)?.[1];
    const r = await tb.curl(
      ['-s', '-o', '/dev/null', '-m', String(seconds), '-w', '%{size_download} %{time_total}', `http://${edge.ip}:${PORT}/bulk`],
      (seconds + 30) * 1000,
    );
    const [size, time] = r.stdout.trim().split(' ').map(Number);
    return { mbit: (size * 8) / time / 1e6, agentSocketCc: cong ?? '?' };
  };

  for (const loss of losses) {
    await tb.weakLink.reshape(shape(loss));
    for (const cc of ['cubic', 'reno', 'bbr']) {
      const plain = await iperf(cc);
      const tun = cc === 'cubic' ? { mbit: NaN, agentSocketCc: 'n/a' } : await tunnel(cc);
      const c = await tb.weakLink.counts();
      const row = {
        loss,
        cc,
        iperfMbit: +plain.mbit.toFixed(2),
        retransmits: plain.retransmits,
        tunnelMbit: +tun.mbit.toFixed(2),
        agentSocketCc: tun.agentSocketCc,
        lineUp: c.up,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
} finally {
  await tb.close();
}
console.log(`uptime after: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
console.log(
  `\n| loss (${values['loss-dir'] === 'up' ? 'edge → cloud only' : 'each way'}) | cc | iperf3 over the line (Mbit/s) | retransmits | download through the tunnel (Mbit/s) |`,
);
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.loss} % | ${r.cc} | ${r.iperfMbit} | ${r.retransmits} | ${r.tunnelMbit} (agent socket: ${r.agentSocketCc}) |`);
