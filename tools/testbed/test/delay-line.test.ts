// The weak link's delay line itself (netns, root only): delay_line.py on a TUN pair in the wire
// namespace, every edge↔cloud packet routed through it. Measured from edge-1 to the load balancer
// address: the TCP handshake takes the configured round trip, iperf3 is capped by the rate, and the
// line drops the configured share of packets (TCP retransmits them).
import t from 'tap';
import { chooseMode, delayLineMissing, startTestbed, type Testbed } from '../src/index.js';

const mode = await chooseMode();
const skip = mode.mode !== 'netns' ? `needs netns mode (${mode.reason})` : (delayLineMissing() ?? false);

/** median TCP connect time (ms) from edge-1 to the server's agent listener (bash's /dev/tcp, timed by date) */
async function connectMs(tb: Testbed, n = 5): Promise<number> {
  const times: number[] = [];
  const script = `s=$(date +%s%N); exec 3<>/dev/tcp/${tb.lbAddress}/10262 && e=$(date +%s%N) && echo $(( (e - s) / 1000 ))`;
  for (let i = 0; i < n; i++) times.push(Number((await tb.exec(tb.edgeNs[0], 'bash', ['-c', script], 10_000)).stdout.trim() || NaN) / 1000);
  return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

/** iperf3 edge-1 → cloud for `seconds`: received Mbit/s and the sender's retransmits */
async function iperf(tb: Testbed, seconds: number, cc = 'bbr'): Promise<{ mbit: number; retransmits: number }> {
  // port 5201 in the testbed's own cloud namespace: nothing else listens there
  const server = tb.spawn(tb.cloudNs, 'iperf3-server', 'iperf3', ['-s', '-1', '-B', tb.lbAddress]);
  for (let i = 0; i < 50; i++) {
    if ((await tb.exec(tb.cloudNs, 'ss', ['-Htln', 'sport = :5201'])).stdout.trim()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = await tb.exec(tb.edgeNs[0], 'iperf3', ['-c', tb.lbAddress, '-t', String(seconds), '-C', cc, '-J'], (seconds + 20) * 1000);
  await server.stop();
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number } } };
  return { mbit: j.end.sum_received.bits_per_second / 1e6, retransmits: j.end.sum_sent.retransmits };
}

t.test(`[netns] delay line: round trip, rate and loss as configured`, { skip }, async (t) => {
  const tb = await startTestbed({ edges: 1, exporterOn: [], weakLink: { delayMs: 150, rateMbit: 20, queueMs: 200 } });
  t.teardown(() => tb.close());
  const line = tb.weakLink!;

  const rtt = await connectMs(tb);
  t.ok(rtt > 290 && rtt < 450, `TCP connect through the line at 150 ms each way: median ${rtt.toFixed(0)} ms (≈ 300)`);
  const c0 = await line.counts();
  t.ok(c0.up.seen > 0 && c0.down.seen > 0, `the handshakes crossed the line (up ${c0.up.seen}, down ${c0.down.seen} packets)`);

  const capped = await iperf(tb, 8);
  t.ok(capped.mbit < 21, `iperf3 (BBR) through a 20 Mbit/s line: ${capped.mbit.toFixed(1)} Mbit/s (< 21)`);
  t.ok(capped.mbit > 8, `and the line carries it (> 8 Mbit/s)`);

  await line.reshape({ delayMs: 5 });
  const fast = await connectMs(tb);
  t.ok(fast < 100, `reshaped to 5 ms each way: connect ${fast.toFixed(1)} ms`);
  const open = await iperf(tb, 3);
  t.ok(open.mbit > 30, `and without a rate limit iperf3 goes past 20 Mbit/s: ${open.mbit.toFixed(1)} Mbit/s (the cap above was the line's)`);

  await line.reshape({ delayMs: 50, jitterMs: 40 });
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) samples.push(await connectMs(tb, 1));
  const spread = Math.max(...samples) - Math.min(...samples);
  t.ok(spread > 25, `50 ± 40 ms each way: connect times ${samples.map((x) => x.toFixed(0)).join(', ')} ms spread ${spread.toFixed(0)} ms (> 25)`);
  t.ok(Math.min(...samples) >= 20, 'and none below the delay minus the jitter, both ways');

  await line.reshape({ delayMs: 5, lossPct: 5, seed: 7 });
  const lossy = await iperf(tb, 4);
  const c = await line.counts();
  const upLoss = (100 * c.up.lost) / c.up.seen;
  t.ok(c.up.seen > 2_000, `the lossy run crossed the line (${c.up.seen} packets up)`);
  t.ok(
    upLoss > 3.5 && upLoss < 6.5,
    `5 % loss: the line dropped ${upLoss.toFixed(2)} % of ${c.up.seen} packets up (down ${((100 * c.down.lost) / c.down.seen).toFixed(2)} %)`,
  );
  t.ok(lossy.retransmits > 0, `and TCP retransmitted (${lossy.retransmits} retransmits at ${lossy.mbit.toFixed(1)} Mbit/s)`);
  t.equal(c.up.writeErrors + c.down.writeErrors, 0, 'no write to a TUN device failed');

  await line.stop();
  const dead = await tb.exec(tb.edgeNs[0], 'curl', ['-sk', '-o', '/dev/null', '-m', '2', `https://${tb.lbAddress}:10262/`], 5_000);
  t.not(dead.code, 0, `a stopped line is a dead link, not a bypass (curl exit ${dead.code})`);
  await t.rejects(line.counts(), /stopped/, 'counts() of a stopped line says so (instead of waiting forever)');
});
