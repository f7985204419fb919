// The weak link of the netns testbed: delay-line/delay_line.py (a user-space netem: delay, loss,
// jitter, rate) on a TUN pair in the wire namespace, and the policy routing that sends the edge↔cloud
// traffic through it:
//
//   edge<i> ──veth── [wire ns] ip rule iif edge<i> → table 100: default dev wl-edge ─┐
//                                                                         delay_line.py (up: wl-edge → wl-cloud)
//                    the packet re-enters on wl-cloud, main table: LB via the cloud ◄┘
//   cloud  ──veth── [wire ns] ip rule iif cloud → table 101: default dev wl-cloud ──┐
//                                                                         delay_line.py (down: wl-cloud → wl-edge)
//                    re-enters on wl-edge, main table: 10.250.<i>.0/30 dev edge<i> ◄┘
//
// The TUN devices are persistent (`ip tuntap add`), so a stopped line is a dead link, never a bypass.
// (`tc netem` is not in every kernel; iptables `-m statistic` drops whole GSO buffers, not packets —
// a TUN device gets MTU-sized packets.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mustExec } from './exec.js';
import type { EdgePlan, LinkShape, WeakLinkOptions, WirePlan } from './options.js';

/** The Python program, next to src/ and dist/ in the package. */
export const DELAY_LINE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'delay-line', 'delay_line.py');

/** Counters of one direction, as delay_line.py reports them. */
export interface DirectionCounts {
  seen: number;
  /** random loss */
  lost: number;
  /** tail drops of the bottleneck queue */
  queueDrops: number;
  sent: number;
  writeErrors: number;
  bytes: number;
}
export interface DelayLineCounts {
  up: DirectionCounts;
  down: DirectionCounts;
}

/** The weak link of a testbed started with `weakLink`. */
export interface WeakLink {
  /** the shape of edge → cloud and cloud → edge */
  up: Required<LinkShape>;
  down: Required<LinkShape>;
  /** the counters so far (SIGUSR1) */
  counts(): Promise<DelayLineCounts>;
  /** SIGTERM: the line stops (the link is dead until start()); resolves with the final counters */
  stop(): Promise<DelayLineCounts | undefined>;
  /** (re)starts the line on the same devices */
  start(): Promise<void>;
  /** stop() and start() with a new shape (counters start at 0); resolves with the old line's counters */
  reshape(options: WeakLinkOptions): Promise<DelayLineCounts | undefined>;
  /** For process-exit hooks: SIGKILL, no waiting. */
  killSync(): void;
}

/** Why the delay line cannot run here (a skip reason), or undefined. */
export function delayLineMissing(): string | undefined {
  if (spawnSync('python3', ['-c', 'import fcntl, select']).status !== 0) return 'python3 not installed (apt-get install python3)';
  if (spawnSync('test', ['-c', '/dev/net/tun']).status !== 0) return '/dev/net/tun missing (the tun module)';
  return undefined;
}

/** A direction's full shape: the common fields, overridden by `up`/`down`. */
export function shapeOf(options: WeakLinkOptions, dir: 'up' | 'down'): Required<LinkShape> {
  const o = { ...options, ...options[dir] };
  return { delayMs: o.delayMs, lossPct: o.lossPct ?? 0, jitterMs: o.jitterMs ?? 0, rateMbit: o.rateMbit ?? 0, queueMs: o.queueMs ?? 100 };
}

/** delay_line.py's spec of one direction: `delay=150,loss=1,jitter=0,rate=20,queue=100`. */
export function lineSpec(s: Required<LinkShape>): string {
  return `delay=${s.delayMs},loss=${s.lossPct},jitter=${s.jitterMs},rate=${s.rateMbit},queue=${s.queueMs}`;
}

/**
 * Adds the TUN pair to the wire namespace (createTopology made it), starts the line and routes every
 * packet from the edges' veths and from the cloud's veth through it.
 */
export async function startWeakLink(wire: WirePlan, edges: readonly EdgePlan[], options: WeakLinkOptions, log: (line: string) => void): Promise<WeakLink> {
  const ipw = (...args: string[]) => mustExec(wire.ns, 'ip', args);
  for (const dev of [wire.tunEdge, wire.tunCloud]) await ipw('tuntap', 'add', 'dev', dev, 'mode', 'tun');
  let shape = options;
  let child: ChildProcess | undefined;
  let waiters: ((c: DelayLineCounts) => void)[] = [];
  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async (): Promise<void> => {
    if (running()) return;
    const [up, down] = [shapeOf(shape, 'up'), shapeOf(shape, 'down')];
    const argv = ['netns', 'exec', wire.ns, 'python3', '-u', DELAY_LINE_SCRIPT, '--a', wire.tunEdge, '--b', wire.tunCloud];
    argv.push('--up', lineSpec(up), '--down', lineSpec(down), '--seed', String(shape.seed ?? 1));
    log(`[delay-line] ${wire.ns}: up ${lineSpec(up)}, down ${lineSpec(down)}`);
    const c = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let ready!: () => void;
    const readyP = new Promise<void>((r) => (ready = r));
    createInterface({ input: c.stdout! }).on('line', (line) => {
      log(`[delay-line] ${line}`);
      let msg: { ready?: boolean } & Partial<DelayLineCounts>;
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return; // not one of its JSON lines: logged above
      }
      if (msg.ready) ready();
      else if (msg.up && msg.down) for (const w of waiters.splice(0)) w(msg as DelayLineCounts);
    });
    createInterface({ input: c.stderr! }).on('line', (line) => log(`[delay-line] ${line}`));
    const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`testbed: delay_line.py exited (${code}) before ready`))));
    exited.catch(() => undefined);
    await Promise.race([readyP, exited]);
  };
  const counts = (): Promise<DelayLineCounts> => {
    if (!running()) return Promise.reject(new Error('testbed: the delay line is stopped (weakLink.start() runs it again)'));
    const p = new Promise<DelayLineCounts>((r) => waiters.push(r));
    child?.kill('SIGUSR1');
    return p;
  };
  await start();
  for (const dev of [wire.tunEdge, wire.tunCloud]) await ipw('link', 'set', dev, 'up');
  await ipw('route', 'add', 'default', 'dev', wire.tunEdge, 'table', '100');
  await ipw('route', 'add', 'default', 'dev', wire.tunCloud, 'table', '101');
  for (const e of edges) await ipw('rule', 'add', 'iif', e.cloudDev, 'lookup', '100');
  await ipw('rule', 'add', 'iif', 'cloud', 'lookup', '101');
  const stop = async (): Promise<DelayLineCounts | undefined> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return undefined;
    const last = new Promise<DelayLineCounts>((r) => waiters.push(r));
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 3_000);
    const result = await Promise.race([last, exited.then(() => undefined)]);
    await exited;
    clearTimeout(timer);
    waiters = [];
    return result;
  };
  return {
    get up() {
      return shapeOf(shape, 'up');
    },
    get down() {
      return shapeOf(shape, 'down');
    },
    counts,
    start,
    stop,
    reshape: async (options) => {
      const last = await stop();
      shape = options;
      await start();
      return last;
    },
    killSync: () => child?.kill('SIGKILL'),
  };
}
