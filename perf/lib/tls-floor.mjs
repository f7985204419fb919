// The floor under an agent session: a bare Node mutual-TLS server (the same certificates, CA and
// TLS settings as the tunnel's agent listener) that echoes what it reads and holds every connection.
// What one idle connection costs here is what Node + OpenSSL cost before any tunnel code runs.
// `node tls-floor.mjs` with PERF_FLOOR (JSON: { cert, key, ca } file paths) → IPC {port}.
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const cfg = JSON.parse(process.env.PERF_FLOOR ?? '{}');
const server = tls.createServer(
  {
    cert: readFileSync(cfg.cert),
    key: readFileSync(cfg.key),
    ca: readFileSync(cfg.ca),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    secureOptions: constants.SSL_OP_NO_TICKET,
    ALPNProtocols: ['edge-tunnel/1', 'edge-tunnel-enroll/1'],
  },
  (socket) => {
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => socket.write(chunk));
  },
);
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () =>
  process.send({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port }),
);
process.on('SIGTERM', () => process.exit(0));
