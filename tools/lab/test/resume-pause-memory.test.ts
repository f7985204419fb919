// Issue 17: memory during a 30 s pause with 100 streams mid-transfer, bounded by the windows. The
// lab's real server and agent processes; 100 raw streams (CONNECT to a target on edge-a), each
// carrying ~100 KiB/s up (caller → target) and ~100 KiB/s down (target → caller), every writer
// honouring backpressure. Then the agent's link goes dark for 30 s (iptables DROP of the agent
// port on loopback, both ways: root only) while both processes keep running: callers and targets
// keep offering bytes, so an unbounded buffer on either side would take ~10 MiB/s (~300 MiB in
// the pause). The RSS of the server and of the agent is sampled every 500 ms (/proc/<pid>/status)
// and its growth over the pre-pause level must stay under streams × (window + send buffer)
// (framing defaults: 256 KiB each) + the link's replay bound (4 MiB) + a 48 MiB margin for
// the GC's slack. After the link returns, every stream carries on and each direction's bytes
// arrive once and in order (SHA-256 of what was sent and what was received).
import t from 'tap';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SESSION_DEFAULTS } from '@edge-tunnel/framing';
import { sh, startTestLab } from './fixtures/lab.js';

const root = process.getuid?.() === 0;
const hasIptables = (await sh('command -v iptables')).code === 0;
const skip = !root ? 'needs root for iptables DROP on loopback' : !hasIptables ? 'needs iptables' : false;
const STREAMS = 100;
const PAUSE_MS = 30_000;
const TICK_MS = 50;
const CHUNK = 5 * 1024; // per stream per direction per tick: 100 KiB/s
const MiB = 1024 * 1024;
const REPLAY_BOUND = 4 * MiB; // framing's resume LINK_DEFAULTS.maxUnacked
const MARGIN = 48 * MiB;

const rss = async (pid: number): Promise<number> => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;

/** One direction of one stream: a paced writer that stops while the socket pushes back, and digests. */
class Direction {
  sent = 0;
  got = 0;
  private readonly tx: Hash = createHash('sha256');
  private readonly rx: Hash = createHash('sha256');
  private blocked = false;
  constructor(private readonly out: Socket) {
    out.on('drain', () => (this.blocked = false));
  }
  tick(block: Buffer): void {
    if (this.blocked || !this.out.writable) return;
    this.tx.update(block);
    this.sent += block.length;
    if (!this.out.write(block)) this.blocked = true;
  }
  receive(b: Buffer): void {
    this.rx.update(b);
    this.got += b.length;
  }
  digests(): { sent: string; got: string } {
    return { sent: this.tx.copy().digest('hex'), got: this.rx.copy().digest('hex') };
  }
}

t.test(
  `${STREAMS} streams mid-transfer both ways, the link dark for ${PAUSE_MS / 1000} s: server and agent memory bounded by the windows`,
  { skip, timeout: 240_000 },
  async (t) => {
    const lines: string[] = [];
    const lab = await startTestLab(177, lines, ['--source-stream-share', '100', '--unauthenticated-stream-share', '100']);
    t.teardown(() => lab.close());
    t.teardown(() => {
      if (!t.passing()) console.error(lines.slice(-60).join('\n'));
    });
    const node = lab.nodes[0]!;
    const targets: Socket[] = [];
    const target = createServer((s) => (s.on('error', () => {}), targets.push(s)));
    target.listen(0, node.ip);
    await once(target, 'listening');
    t.teardown(() => target.close());
    const port = (target.address() as AddressInfo).port;
    await writeFile(lab.configPath, `dnat-ports-pair: '9100=10264,${port}=10264'\n`);

    const open = async (): Promise<Socket | undefined> => {
      const c = connect(lab.ports.connect, lab.serverHost);
      c.on('error', () => {});
      c.write(`CONNECT ${node.ip}:${port} HTTP/1.1\r\nHost: ${node.ip}:${port}\r\n\r\n`);
      const [head] = (await Promise.race([once(c, 'data'), sleep(5_000).then(() => [Buffer.alloc(0)])])) as [Buffer];
      if (head.toString('latin1').startsWith('HTTP/1.1 200') && head.toString('latin1').endsWith('\r\n\r\n')) return c;
      c.destroy();
      return undefined;
    };
    let first: Socket | undefined;
    for (let i = 0; i < 40 && !(first = await open()); i++) await sleep(250);
    t.ok(first, 'the port is open through the tunnel');
    await until(() => targets.length === 1, 5_000, 'target connection 1');
    targets.splice(0, targets.length - 1);
    const callers = [first!];
    while (callers.length < STREAMS) {
      const c = await open();
      if (!c) throw new Error(`CONNECT ${callers.length + 1} refused`);
      callers.push(c);
      // one at a time: target i is caller i's
      await until(() => targets.length === callers.length, 5_000, `target connection ${callers.length}`);
    }
    const up = callers.map((c) => new Direction(c));
    const down = targets.map((s) => new Direction(s));
    callers.forEach((c, i) => c.on('data', (b: Buffer) => down[i]!.receive(b)));
    targets.forEach((s, i) => s.on('data', (b: Buffer) => up[i]!.receive(b)));
    const block = randomBytes(CHUNK);
    let writing = true;
    const pump = setInterval(() => {
      if (!writing) return;
      for (let i = 0; i < STREAMS; i++) {
        up[i]!.tick(block);
        down[i]!.tick(block);
      }
    }, TICK_MS);
    t.teardown(() => clearInterval(pump));

    const pids = { server: lab.server.child.pid!, agent: lab.agents.get(node.name)!.child.pid! };
    await sleep(5_000); // steady state
    const base = { server: await rss(pids.server), agent: await rss(pids.agent) };
    const flowing = up.reduce((a, d) => a + d.got, 0) + down.reduce((a, d) => a + d.got, 0);
    const offeredAtBase = up.reduce((a, d) => a + d.sent, 0) + down.reduce((a, d) => a + d.sent, 0);
    t.ok(
      up.every((d) => d.got > 0) && down.every((d) => d.got > 0),
      `every stream mid-transfer both ways: ${(flowing / MiB).toFixed(1)} MiB through the tunnel, ${(offeredAtBase / MiB).toFixed(1)} MiB taken by the sockets (the rest queues in the kernel)`,
    );

    const rules = [
      ['INPUT', '-p', 'tcp', '--dport', String(lab.ports.agent)],
      ['INPUT', '-p', 'tcp', '--sport', String(lab.ports.agent)],
    ].map((r) => [...r, '-i', 'lo', '-j', 'DROP', '-m', 'comment', '--comment', 'edge-tunnel-resume-pause-memory']);
    const heal = async (): Promise<void> => {
      for (const r of rules) while ((await sh(`iptables -w -D ${r.join(' ')}`)).code === 0);
    };
    t.teardown(heal);
    const offeredBefore = up.reduce((a, d) => a + d.sent, 0) + down.reduce((a, d) => a + d.sent, 0);
    for (const r of rules) t.equal((await sh(`iptables -w -I ${r.join(' ')}`)).code, 0, `iptables -I ${r.slice(0, 5).join(' ')}`);
    const peak = { ...base };
    const samples: string[] = [];
    const cutAt = Date.now();
    while (Date.now() - cutAt < PAUSE_MS) {
      await sleep(500);
      const now = { server: await rss(pids.server), agent: await rss(pids.agent) };
      peak.server = Math.max(peak.server, now.server);
      peak.agent = Math.max(peak.agent, now.agent);
      if (samples.length % 10 === 0 || Date.now() - cutAt >= PAUSE_MS)
        samples.push(`${((Date.now() - cutAt) / 1000).toFixed(0)}s ${(now.server / MiB).toFixed(0)}/${(now.agent / MiB).toFixed(0)}`);
      else samples.push('');
    }
    const offeredInPause = up.reduce((a, d) => a + d.sent, 0) + down.reduce((a, d) => a + d.sent, 0) - offeredBefore;
    await heal();
    const healedAt = Date.now();

    const bound = STREAMS * (SESSION_DEFAULTS.initialWindow + SESSION_DEFAULTS.sendBuffer) + REPLAY_BOUND + MARGIN;
    const growth = { server: peak.server - base.server, agent: peak.agent - base.agent };
    t.comment(
      `RSS MiB before the pause: server ${(base.server / MiB).toFixed(0)}, agent ${(base.agent / MiB).toFixed(0)}; peak in the pause: server ${(peak.server / MiB).toFixed(0)} (+${(growth.server / MiB).toFixed(1)}), agent ${(peak.agent / MiB).toFixed(0)} (+${(growth.agent / MiB).toFixed(1)}); bound +${(bound / MiB).toFixed(0)} MiB`,
    );
    t.comment(
      `samples (s server/agent MiB): ${samples.filter(Boolean).join(', ')}; the writers' sockets took ${(offeredInPause / MiB).toFixed(1)} MiB more during the pause (kernel socket buffers on loopback; then backpressure)`,
    );
    t.ok(growth.server < bound, `server RSS growth ${(growth.server / MiB).toFixed(1)} MiB < ${(bound / MiB).toFixed(0)} MiB`);
    t.ok(growth.agent < bound, `agent RSS growth ${(growth.agent / MiB).toFixed(1)} MiB < ${(bound / MiB).toFixed(0)} MiB`);

    // the link is back: the streams carry on; then every writer stops and each direction is compared
    const gotAtHeal = up.reduce((a, d) => a + d.got, 0) + down.reduce((a, d) => a + d.got, 0);
    await until(
      () => up.reduce((a, d) => a + d.got, 0) + down.reduce((a, d) => a + d.got, 0) > gotAtHeal + STREAMS * CHUNK * 20,
      60_000,
      'the streams to flow again',
    );
    t.comment(
      `flowing again ${Date.now() - healedAt} ms after the link returned; server log: ${lines
        .filter((l) => /agent session resumed|agent connection lost/.test(l))
        .map((l) => /"msg":"([^"]*)"/.exec(l)?.[1])
        .join(' / ')}`,
    );
    writing = false;
    await until(() => up.every((d) => d.got === d.sent) && down.every((d) => d.got === d.sent), 60_000, 'every byte sent to arrive');
    const bad = [...up, ...down].filter((d) => d.digests().sent !== d.digests().got).length;
    t.equal(bad, 0, `all ${STREAMS * 2} directions byte-identical (SHA-256) across the pause`);
    t.equal(lines.filter((l) => l.includes('agent attached')).length, 2, 'no new session (edge-a and edge-b attached once each)');
    for (const c of callers) c.destroy();
  },
);

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
