// Many emulated agents in one process, each an mTLS connection with its own certificate, all idle
// once up. `node swarm.mjs` with PERF_SWARM (a JSON file: { host, port, ca, bare, identities:
// [{ name, ip, certPem, keyPem }] }) → IPC {up, failed, firstError} once all answered. Each agent
// says the framing hello in a Session; with `bare` it sends a hello-sized message and waits for
// its echo instead (the floor server, tls-floor.mjs).
import { Session } from '@edge-tunnel/framing';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

/** An emulated agent: its node name and IP, certificate and key (PEM). @typedef {{ name: string, ip: string, certPem: string, keyPem: string }} SwarmIdentity */
/** The swarm's file (PERF_SWARM). @typedef {{ host: string, port: number, ca: string, bare: boolean, identities: SwarmIdentity[] }} SwarmConfig */
/** The swarm's IPC answer once every agent answered or failed. @typedef {{ up: number, failed: number, firstError?: string }} SwarmResult */

/** @type {SwarmConfig} */
const cfg = JSON.parse(readFileSync(process.env.PERF_SWARM, 'utf8'));
/** @type {(Session | tls.TLSSocket)[]} */
const kept = [];
let up = 0;
let failed = 0;
/** @type {string | undefined} */
let firstError;

/**
 * the framing hello: resolves once the server's SETTINGS arrived
 * @param {tls.TLSSocket} socket @param {SwarmIdentity} id
 */
function sayHello(socket, id) {
  const session = new Session(socket, {
    role: 'client',
    hello: { nodeName: id.name, nodeIps: [id.ip], version: 1, agentVersion: 'perf-swarm' },
    keepaliveIntervalMs: 600_000,
    keepaliveTimeoutMs: 1_200_000,
  });
  session.on('error', () => {});
  kept.push(session);
  return session.ready;
}

/**
 * a message of about the hello's size, echoed by the floor server
 * @param {tls.TLSSocket} socket @param {SwarmIdentity} id
 */
function echoOnce(socket, id) {
  kept.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('data', resolve);
    socket.once('close', () => reject(new Error('closed before the echo')));
    socket.write(JSON.stringify({ nodeName: id.name, nodeIps: [id.ip], version: 1, agentVersion: 'perf-swarm' }).padEnd(128));
  });
}

const one = (/** @type {SwarmIdentity} */ id) =>
  /** @type {Promise<void>} */ (
    new Promise((resolve) => {
      const socket = tls.connect({
        host: cfg.host,
        port: cfg.port,
        ca: cfg.ca,
        cert: id.certPem,
        key: id.keyPem,
        servername: 'localhost',
        ALPNProtocols: ['edge-tunnel/1'],
      });
      socket.once('secureConnect', async () => {
        try {
          await (cfg.bare ? echoOnce(socket, id) : sayHello(socket, id));
          up++;
        } catch (err) {
          failed++;
          firstError ??= err.message;
        }
        resolve();
      });
      socket.once('error', (err) => {
        failed++;
        firstError ??= err.message;
        resolve();
      });
    })
  );
const BATCH = 32;
for (let i = 0; i < cfg.identities.length; i += BATCH) await Promise.all(cfg.identities.slice(i, i + BATCH).map(one));
process.send({ up, failed, firstError });
process.on('SIGTERM', () => process.exit(0));
