// One session per server replica: the first dial through the load balancer learns the set from the
// hello, the other replicas are dialed at their advertised addresses, and control-stream lines
// (kind 'replicas') add and remove replicas.
import t from 'tap';
import { once } from 'node:events';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Session, type Stream } from '@edge-tunnel/framing';
import { start } from '../src/start.js';
import { agentConfig, captureLogger, httpGet, waitFor } from './fixtures/agent.js';
import { testPki, type TestPki } from './fixtures/pki.js';

interface Replica {
  id: string;
  addr: string;
}

/** A framing server whose hello names the replica set; it keeps each session's control stream. */
class ReplicaServer {
  readonly server: Server;
  readonly sessions = new Set<Session>();
  readonly control = new Map<Session, Stream>();
  replicas: Replica[] = [];
  addr = '';

  constructor(
    pki: TestPki,
    readonly id: string,
  ) {
    this.server = createServer({ key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: true });
    this.server.on('tlsClientError', () => {});
    this.server.on('secureConnection', (socket: TLSSocket) => {
      socket.on('error', () => {});
      const session = new Session(socket, { role: 'server', hello: { version: 1, serverId: this.id, replicas: this.replicas } });
      session.on('close', () => {
        this.sessions.delete(session);
        this.control.delete(session);
      });
      session.ready.then(
        () => {
          this.sessions.add(session);
          const stream = session.open({ host: 'edge-tunnel', port: 0, kind: 'replicas' });
          stream.on('error', () => {});
          stream.resume();
          this.control.set(session, stream);
        },
        () => {},
      );
    });
  }

  async listen(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.addr = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  announce(replicas: Replica[]): void {
    this.replicas = replicas;
    for (const s of this.control.values()) s.write(`${JSON.stringify({ replicas })}\n`);
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A TCP proxy to one backend: the load balancer. */
async function loadBalancer(t: { teardown(fn: () => unknown): void }, backend: () => string): Promise<number> {
  const sockets = new Set<Socket>();
  const lb: NetServer = createNetServer((client) => {
    const [host, port] = backend().split(':');
    const up = netConnect({ host: host!, port: Number(port) });
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        up.destroy();
      });
      s.once('close', () => sockets.delete(s));
    }
    client.pipe(up).pipe(client);
  });
  lb.listen(0, '127.0.0.1');
  await once(lb, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    lb.close();
  });
  return (lb.address() as AddressInfo).port;
}

async function cluster(t: { teardown(fn: () => unknown): void }, n: number): Promise<{ pki: TestPki; servers: ReplicaServer[]; set: Replica[] }> {
  const pki = await testPki();
  const servers = Array.from({ length: n }, (_, i) => new ReplicaServer(pki, `r${i + 1}`));
  for (const s of servers) await s.listen();
  const set = servers.map((s) => ({ id: s.id, addr: s.addr }));
  for (const s of servers) s.replicas = set;
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  return { pki, servers, set };
}

t.test('the agent reaches the load balancer once, then keeps one session to every replica', async (t) => {
  const { pki, servers } = await cluster(t, 3);
  let lbDials = 0;
  const lbPort = await loadBalancer(t, () => (lbDials++, servers[1]!.addr));
  const { logger } = captureLogger();
  const agent = await start(agentConfig(pki, lbPort), logger);
  t.teardown(() => agent.close());
  await waitFor(() => agent.status().sessions.length === 3, 5000, 'three sessions');
  t.same(
    agent
      .status()
      .sessions.map((s) => s.replicaId)
      .sort(),
    ['r1', 'r2', 'r3'],
  );
  t.equal(agent.status().sessions.find((s) => s.replicaId === 'r2')!.via, 'lb', 'the replica behind the LB is served by the LB session');
  t.same(
    servers.map((s) => s.sessions.size),
    [1, 1, 1],
    'exactly one session per replica',
  );
  t.equal(lbDials, 1, 'the load balancer was dialed once');
  const metrics = await httpGet(agent.metaAddress.port, '/metrics');
  t.match(metrics.body, /edge_tunnel_agent_sessions\{transport="tls"\} 3/);
  t.match(metrics.body, /edge_tunnel_agent_session_up 1/);
  t.equal((await httpGet(agent.metaAddress.port, '/readyz')).status, 200);
});

t.test('replica-set changes on the control stream stop and start dialers', async (t) => {
  const { pki, servers, set } = await cluster(t, 3);
  const lbPort = await loadBalancer(t, () => servers[0]!.addr);
  const { logger } = captureLogger();
  const agent = await start(agentConfig(pki, lbPort), logger);
  t.teardown(() => agent.close());
  await waitFor(() => agent.status().sessions.length === 3 && servers.every((s) => s.control.size === 1), 5000, 'three sessions');
  servers[0]!.announce(set.slice(0, 2));
  await waitFor(() => servers[2]!.sessions.size === 0, 5000, 'r3 session closed');
  await waitFor(() => agent.status().sessions.length === 2, 5000, 'two sessions');
  t.same(
    agent
      .status()
      .sessions.map((s) => s.replicaId)
      .sort(),
    ['r1', 'r2'],
  );
  servers[1]!.announce(set);
  await waitFor(() => agent.status().sessions.length === 3, 5000, 'r3 back');
  t.equal(servers[2]!.sessions.size, 1);
});

t.test('a lost replica is redialed at its address, not through the load balancer', async (t) => {
  const { pki, servers } = await cluster(t, 2);
  let lbDials = 0;
  const lbPort = await loadBalancer(t, () => (lbDials++, servers[0]!.addr));
  const { logger } = captureLogger();
  const agent = await start(agentConfig(pki, lbPort), logger);
  t.teardown(() => agent.close());
  await waitFor(() => agent.status().sessions.length === 2, 5000, 'two sessions');
  for (const s of servers[0]!.sessions) s.destroy(); // the LB-reached replica drops us
  await waitFor(() => agent.status().sessions.length === 2 && agent.status().sessions.every((s) => s.via === 'direct'), 5000, 'direct sessions');
  t.equal(lbDials, 1, 'no second load balancer dial');
});

t.test('a server without a replica set: the load balancer session is the only one (single server)', async (t) => {
  const pki = await testPki();
  const single = new ReplicaServer(pki, 'solo');
  await single.listen();
  single.replicas = undefined as unknown as Replica[];
  t.teardown(() => single.close());
  const { logger } = captureLogger();
  const agent = await start(agentConfig(pki, Number(single.addr.split(':')[1])), logger);
  t.teardown(() => agent.close());
  await waitFor(() => agent.status().connected, 5000, 'connected');
  t.same(
    agent.status().sessions.map((s) => [s.replicaId, s.via]),
    [['solo', 'lb']],
  );
});

t.test('advertised addresses that do not answer: with no session left, the agent falls back to the load balancer', async (t) => {
  const pki = await testPki();
  const only = new ReplicaServer(pki, 'r1');
  await only.listen();
  only.replicas = [{ id: 'r1', addr: '127.0.0.1:1' }]; // not reachable from this agent
  t.teardown(() => only.close());
  let lbDials = 0;
  const lbPort = await loadBalancer(t, () => (lbDials++, only.addr));
  const { logger } = captureLogger();
  const agent = await start(agentConfig(pki, lbPort), logger);
  t.teardown(() => agent.close());
  await waitFor(() => agent.status().connected, 5000, 'connected');
  for (const s of only.sessions) s.destroy();
  await waitFor(() => lbDials >= 2 && agent.status().connected, 5000, 'reconnected through the load balancer');
  t.same(
    agent.status().sessions.map((s) => [s.replicaId, s.via]),
    [['r1', 'lb']],
  );
});

t.test('dials caused by a lost session or a control line are spread over --reconnect-spread-ms', async (t) => {
  const { pki, servers, set } = await cluster(t, 3);
  const lbPort = await loadBalancer(t, () => servers[0]!.addr);
  const { logger, lines } = captureLogger();
  const agent = await start(agentConfig(pki, lbPort, { reconnectSpreadMs: 300 }), logger, { random: () => 0.999 });
  t.teardown(() => agent.close());
  await waitFor(() => agent.status().sessions.length === 3 && servers.every((s) => s.control.size === 1), 5000, 'three sessions');
  t.notOk(
    lines.find((l) => l.msg === 'reconnecting'),
    'the dials that follow the first hello are not delayed',
  );
  const planned = (addr: string) => lines.find((l) => l.msg === 'reconnecting' && l.replicaAddr === addr);

  servers[0]!.announce(set.slice(0, 2));
  await waitFor(() => agent.status().sessions.length === 2, 5000, 'r3 dropped');
  const announcedAt = performance.now();
  servers[0]!.announce(set);
  await waitFor(() => agent.status().sessions.length === 3, 5000, 'r3 back');
  t.match(planned(set[2]!.addr), { delayMs: 299, attempt: 0 }, 'a replica announced on the control stream: spread');
  t.ok(performance.now() - announcedAt >= 295, 'and dialed after the spread delay');

  const lostAt = performance.now();
  for (const s of servers[0]!.sessions) s.destroy(); // the replica the load balancer reached drops us
  await waitFor(() => agent.status().sessions.length === 2, 5000, 'r1 lost');
  await waitFor(() => agent.status().sessions.length === 3, 5000, 'r1 back, directly');
  t.match(planned(set[0]!.addr), { delayMs: 299, attempt: 0 }, 'the lost replica is redialed after a spread delay');
  t.ok(performance.now() - lostAt >= 295, 'and not at once');
});
