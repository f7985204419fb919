// Many emulated agents in one process, each an mTLS connection with its own certificate and a
// framing Session saying the agent's hello, all idle. `node swarm.mjs` with PERF_SWARM (a JSON file:
// { host, port, ca, identities: [{ name, certPem, keyPem }] }) → IPC {up, failed} once all answered.
import { Session } from '@edge-tunnel/framing';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const cfg = JSON.parse(readFileSync(process.env.PERF_SWARM, 'utf8'));
const sessions = [];
let up = 0;
let failed = 0;
let firstError;
const one = (id) =>
  new Promise((resolve) => {
    const socket = tls.connect({ host: cfg.host, port: cfg.port, ca: cfg.ca, cert: id.certPem, key: id.keyPem, servername: 'localhost' });
    socket.once('secureConnect', async () => {
      const session = new Session(socket, {
        role: 'client',
        hello: { nodeName: id.name, nodeIps: [id.ip], version: 1, agentVersion: 'perf-swarm' },
        keepaliveIntervalMs: 600_000,
        keepaliveTimeoutMs: 1_200_000,
      });
      session.on('error', () => {});
      sessions.push(session);
      try {
        await session.ready;
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
  });
const BATCH = 32;
for (let i = 0; i < cfg.identities.length; i += BATCH) await Promise.all(cfg.identities.slice(i, i + BATCH).map(one));
process.send({ up, failed, firstError });
process.on('SIGTERM', () => process.exit(0));
