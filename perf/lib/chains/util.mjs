// Shared by the chains: free ports, waiting for a port, spawning a link between two hops.
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawnProc } from '../procs.mjs';

/** @typedef {import('../procs.mjs').Proc} Proc */
/** A process of a chain: `measured` ones are summed in the memory and CPU figures. @typedef {{ role: string, proc: Proc, measured: boolean }} ProcEntry */
/** A scenario's link (link.mjs): bytes/s (0 = unlimited), one-way delay, queue bytes. @typedef {{ rate?: number, delayMs?: number, queue?: number }} LinkSpec */

export const LIB = fileURLToPath(new URL('..', import.meta.url));

/** @returns {Promise<number>} */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/** @param {string} host @param {number} port */
export async function waitForPort(host, port, timeoutMs = 15_000, alive = () => true) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive() || Date.now() > until) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Spawns a Node helper that answers {port} over IPC.
 * @param {string} name @param {string} script @param {string[]} args @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<{ proc: Proc, port: number }>}
 */
export async function spawnHelper(name, script, args, env) {
  const proc = spawnProc(name, `${LIB}/${script}`, args, { node: true, env });
  const msg = await proc.message();
  return { proc, port: msg.port };
}

/**
 * link = { rate, delayMs, queue } or undefined; returns where the first hop should dial
 * @param {LinkSpec | undefined} link @param {string} host @param {number} port @param {ProcEntry[]} procs
 * @returns {Promise<{ host: string, port: number }>}
 */
export async function viaLink(link, host, port, procs) {
  if (!link) return { host, port };
  const { proc, port: linkPort } = await spawnHelper('link', 'link.mjs', [
    host,
    String(port),
    String(link.rate ?? 0),
    String(link.delayMs ?? 0),
    String(link.queue ?? 256 * 1024),
  ]);
  procs.push({ role: 'link', proc, measured: false });
  return { host: '127.0.0.1', port: linkPort };
}

/** @param {ProcEntry[]} procs */
export async function stopAll(procs) {
  for (const { proc } of [...procs].reverse()) await proc.stop();
  procs.length = 0;
}
