// The nodes of `scrape`: N emulated agents in one process, each an mTLS connection with its own
// certificate and a framing Session, answering every stream the server opens as a kubelet would:
// HTTP (the :10264 channel) or TLS with the kubelet's serving certificate (the :10263 channel, the
// server originates TLS), served by http-sink.mjs `serveHttp`. `node scrape-swarm.mjs` with
// PERF_SWARM (a JSON file: { host, port, ca, serving: { cert, key }, identities: [{ name, ip, certPem,
// keyPem }] }) → IPC { up, failed, firstError } once all are attached; then serves until SIGTERM.
import { Session } from '@edge-tunnel/framing';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { serveHttp } from './http-sink.mjs';

/** The swarm's file (PERF_SWARM): swarm.mjs's, with the kubelet's serving pair (PEM). @typedef {Omit<import('./swarm.mjs').SwarmConfig, 'bare'> & { serving: { cert: string, key: string } }} ScrapeSwarmConfig */

/** @type {ScrapeSwarmConfig} */
const cfg = JSON.parse(readFileSync(process.env.PERF_SWARM, 'utf8'));
const serving = tls.createSecureContext({ cert: cfg.serving.cert, key: cfg.serving.key });
/** @type {Session[]} */
const kept = [];
let up = 0;
let failed = 0;
/** @type {string | undefined} */
let firstError;

/** @param {import('@edge-tunnel/framing').Stream} stream */
function serveStream(stream) {
  stream.on('error', () => {});
  stream.accept();
  if (stream.meta.kind !== 'https') return serveHttp(stream);
  const secure = new tls.TLSSocket(stream, { isServer: true, secureContext: serving });
  secure.on('error', () => secure.destroy());
  serveHttp(secure);
}

const one = (/** @type {import('./swarm.mjs').SwarmIdentity} */ id) =>
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
      const fail = (/** @type {Error} */ err) => {
        failed++;
        firstError ??= err.message;
        resolve();
      };
      socket.once('secureConnect', async () => {
        const session = new Session(socket, {
          role: 'client',
          hello: { nodeName: id.name, nodeIps: [id.ip], version: 1, agentVersion: 'perf-scrape' },
          keepaliveIntervalMs: 600_000,
          keepaliveTimeoutMs: 1_200_000,
        });
        session.on('error', () => {});
        session.on('stream', serveStream);
        kept.push(session);
        session.ready.then(() => (up++, resolve()), fail);
      });
      socket.once('error', fail);
    })
  );
const BATCH = 32;
for (let i = 0; i < cfg.identities.length; i += BATCH) await Promise.all(cfg.identities.slice(i, i + BATCH).map(one));
process.send({ up, failed, firstError });
process.on('SIGTERM', () => process.exit(0));
