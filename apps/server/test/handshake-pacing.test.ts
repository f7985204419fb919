// --max-agent-handshakes: TLS handshakes in flight on the agent port are capped; connections beyond
// the cap wait (paused) and all complete; none is refused; slots are never leaked.
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import t, { type Test } from 'tap';
import { meta, startServer, until } from './fixtures/harness.js';
import type { TestServer } from './fixtures/harness.js';
import { testPki } from './fixtures/pki.js';

const pki = await testPki();
t.setTimeout(60_000);
const cert = await pki.agent('edge-p', ['127.0.20.41']);
/** How long each client holds its handshake open (its second flight is delayed by this). */
const HOLD_MS = 300;
const N = 6;

/** The TCP socket as a Duplex whose writes after the first (the ClientHello) are sent HOLD_MS late. */
function slowAfterHello(raw: Socket): Duplex {
  let writes = 0;
  const d = new Duplex({
    read: () => void raw.resume(),
    write: (chunk: Buffer, _enc, cb) => (writes++ === 0 ? raw.write(chunk, cb) : void setTimeout(() => raw.write(chunk, cb), HOLD_MS)),
    final: (cb) => (raw.end(), cb()),
    destroy: (err, cb) => (raw.destroy(), cb(err)),
  });
  raw.on('data', (b: Buffer) => void (d.push(b) || raw.pause()));
  raw.on('end', () => d.push(null));
  raw.on('error', (err) => d.destroy(err));
  return d;
}

/** A slow mTLS handshake with the agent port; resolves with the time it completed. */
function slowHandshake(t: Test, server: TestServer): Promise<number> {
  const raw = netConnect(server.addr.agent.port, server.addr.agent.host);
  const socket = tlsConnect({
    socket: slowAfterHello(raw),
    ca: pki.agentCa.certPem,
    servername: 'localhost',
    cert: cert.certPem,
    key: cert.keyPem,
    ALPNProtocols: ['edge-tunnel/1'],
  });
  t.teardown(() => void socket.destroy());
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('secureConnect', () => resolve(performance.now()));
  });
}

/** Connects and leaves at once: a connection that gives up while waiting for its slot. */
function quitter(server: TestServer): void {
  const s = netConnect(server.addr.agent.port, server.addr.agent.host, () => s.destroy());
  s.on('error', () => {});
}

t.test(`cap 2: ${N} slow handshakes run at most 2 at a time, in waves, and all complete`, async (t) => {
  const server = await startServer(t, pki, ['--max-agent-handshakes', '2']);
  const done = Promise.all(Array.from({ length: N }, () => slowHandshake(t, server)));
  quitter(server);
  const times = (await done).sort((a, b) => a - b);
  t.equal(times.length, N, 'every handshake completed: none refused');
  const spread = times.at(-1)! - times[0]!;
  t.ok(spread >= 1.5 * HOLD_MS, `they completed in waves: last ${spread.toFixed(0)} ms after first (≥ 1.5 × ${HOLD_MS}; unpaced all end together)`);
  const stats = (await meta(server, '/debug/agent-handshakes')).json();
  t.equal(stats.max, 2);
  t.equal(stats.peak, 2, 'never more than 2 in flight');
  t.ok(stats.paced >= N - 2, `${stats.paced} connections waited for a slot`);
  await until(async () => (await meta(server, '/debug/agent-handshakes')).json().inFlight === 0, 'every handshake ended on the server');
  t.match((await meta(server, '/debug/agent-handshakes')).json(), { inFlight: 0, waiting: 0 }, "every slot returned, the quitter's included");
  t.match((await meta(server, '/debug/agent-handshakes')).json(), { waitingHello: 0 }, 'the quitter left before its ClientHello: it never took a slot');
  const metrics = (await meta(server, '/metrics')).body;
  t.match(metrics, /^edge_tunnel_agent_handshakes\{state="in_flight"\} 0$/m, 'in-flight gauge back at 0');
  t.match(metrics, /^edge_tunnel_agent_handshakes\{state="waiting"\} 0$/m, 'waiting gauge at 0');
  t.equal(Number(/^edge_tunnel_agent_handshakes_paced_total (\d+)$/m.exec(metrics)?.[1]), stats.paced, 'the paced counter says what the debug endpoint says');
});

t.test(`the default cap (256): the same ${N} handshakes all run at once`, async (t) => {
  const server = await startServer(t, pki);
  const times = await Promise.all(Array.from({ length: N }, () => slowHandshake(t, server)));
  t.equal(times.length, N);
  await until(async () => (await meta(server, '/debug/agent-handshakes')).json().inFlight === 0, 'every handshake ended on the server');
  t.match((await meta(server, '/debug/agent-handshakes')).json(), { max: 256, peak: N, paced: 0, inFlight: 0, waiting: 0 });
});
