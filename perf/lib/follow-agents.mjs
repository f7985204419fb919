// N lightweight following agents in this process: each a TLS connection (optionally with its own
// client certificate) and a framing Session that says it follows the server's port config, applying
// every CONFIG with the agent's own AllowList (apps/agent), as the real agent does. Shared by both
// modes of port-follow-bench.mjs.
import tls from 'node:tls';
import { AllowList } from '@edge-tunnel/agent';
import { parseAgentPortsMessage } from '@edge-tunnel/dnat';
import { Session } from '@edge-tunnel/framing';

/** A following agent's node and (optionally) its own client certificate. @typedef {{ name: string, ip: string, certPem?: string, keyPem?: string }} FollowerIdentity */
/**
 * A following agent: its session and AllowList, the rev it applied last, when (performance.now()) and how long the apply took.
 * @typedef {{ id: FollowerIdentity, session: Session, allowList: AllowList, rev: number, at: number, applyMs: number }} Follower
 */

/**
 * `identity(i)` → { name, ip, certPem?, keyPem? }. Resolves once every session is up. Each agent
 * records the rev it applied, when, and how long the apply took.
 * @param {{ host: string, port: number, ca: string, n: number, identity: (i: number) => FollowerIdentity, batch?: number }} opts
 */
export async function connectFollowers({ host, port, ca, n, identity, batch = 50 }) {
  /** @type {Follower[]} */
  const agents = [];
  // the waiter's predicate is evaluated once per agent per CONFIG (a count, not a scan of all N):
  // the bench process must not add O(N²) work to what it measures
  /** @type {{ done: (a: Follower) => boolean, resolve: (at: number) => void, ok: Set<Follower>, pending: number } | undefined} */
  let waiter;
  const settle = () => {
    if (waiter && waiter.pending === 0) {
      const w = waiter;
      waiter = undefined;
      w.resolve(Math.max(...agents.map((a) => a.at)));
    }
  };
  const recheck = (/** @type {Follower} */ a) => {
    if (!waiter) return;
    const ok = waiter.done(a);
    if (ok !== waiter.ok.has(a)) {
      if (ok) waiter.ok.add(a);
      else waiter.ok.delete(a);
      waiter.pending += ok ? -1 : 1;
    }
    settle();
  };
  const one = (/** @type {number} */ i) =>
    /** @type {Promise<void>} */ (
      new Promise((resolve, reject) => {
        const id = identity(i);
        const socket = tls.connect({
          host,
          port,
          ca,
          servername: 'localhost',
          ALPNProtocols: ['edge-tunnel/1'],
          ...(id.certPem ? { cert: id.certPem, key: id.keyPem } : {}),
        });
        socket.once('secureConnect', () => {
          const allowList = new AllowList({ nodeName: id.name, nodeIps: [id.ip], localhostPorts: [] });
          const session = new Session(socket, {
            role: 'client',
            config: true,
            hello: { nodeName: id.name, nodeIps: [id.ip], version: 1, agentVersion: 'perf-follow' },
            keepaliveIntervalMs: 600_000,
            keepaliveTimeoutMs: 1_200_000,
          });
          session.on('error', () => {});
          /** @type {Follower} */
          const a = { id, session, allowList, rev: 0, at: 0, applyMs: 0 };
          session.on('config', (msg) => {
            const started = performance.now();
            const ports = parseAgentPortsMessage(msg);
            allowList.follow(ports);
            a.at = performance.now();
            a.applyMs = a.at - started;
            a.rev = ports.rev;
            recheck(a);
          });
          agents.push(a);
          session.ready.then(() => resolve(), reject);
        });
        socket.once('error', reject);
      })
    );
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => one(i + k)));
  return {
    agents,
    /**
     * resolves with the time the last agent satisfied `done(agent)`
     * @param {(a: Follower) => boolean} done
     * @returns {Promise<number>}
     */
    until(done) {
      return new Promise((resolve) => {
        const ok = new Set(agents.filter(done));
        waiter = { done, resolve, ok, pending: agents.length - ok.size };
        settle();
      });
    },
    allows: (/** @type {Follower} */ a, /** @type {number} */ port) => a.allowList.check(a.id.ip, port).allowed,
    close() {
      for (const a of agents) a.session.destroy();
    },
  };
}

/**
 * E dnat-ports-pair entries: consecutive from 20 000, or scattered over 1..65535 (seeded).
 * @param {string} shape 'consecutive' | 'scattered' @param {number} count @param {number} seed
 */
export function portEntries(shape, count, seed) {
  /** @type {number[]} */
  const ports = [];
  if (shape === 'consecutive') for (let p = 20_000; p < 20_000 + count; p++) ports.push(p);
  else {
    let x = seed;
    const taken = new Set([10250, 10255, 10262, 10263, 10264, 10265, 10266]);
    while (ports.length < count) {
      x = (x * 48_271) % 2_147_483_647;
      const p = 1 + (x % 65_535);
      if (taken.has(p)) continue;
      taken.add(p);
      ports.push(p);
    }
  }
  return ports;
}
