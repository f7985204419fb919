// The Node peers, each as an ingress process (plain TCP in, like the tunnel server's CONNECT
// frontend) and an egress process (dials the sink, like the agent), with one "WAN" hop between:
//   tls   — one TLS connection per stream (no mux: the per-stream ceiling for Node)
//   h2    — Node's HTTP/2 as a mux: one TLS session, a CONNECT stream per stream
//   yamux — @chainsafe/libp2p-yamux over one TLS connection
//   floor — floor-mux.mjs over one TLS connection: the least any Node mux can do
// `node relay.mjs <kind> ingress|egress` with PERF_RELAY (JSON) → IPC {port}.
import http2 from 'node:http2';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { floorMux } from './floor-mux.mjs';
import { yamuxConnect, yamuxListen } from './yamux-adapter.mjs';

const cfg = JSON.parse(process.env.PERF_RELAY ?? '{}');
const [kind, role] = process.argv.slice(2);
const H2_WINDOW = 256 * 1024; // per-stream window, the same as edge-tunnel's initial window
const H2_SESSION_WINDOW = 64 * 1024 * 1024; // the same as edge-tunnel's receive budget

function tlsServerOpts() {
  return { key: readFileSync(cfg.key), cert: readFileSync(cfg.cert), allowHalfOpen: true };
}
function tlsClientOpts() {
  return { host: cfg.wanHost, port: cfg.wanPort, ca: readFileSync(cfg.ca), servername: 'localhost', allowHalfOpen: true };
}

/**
 * both ways with backpressure and half-close; either side's error/close tears down the other
 * @param {import('node:stream').Duplex} a @param {import('node:stream').Duplex} b
 */
function splice(a, b) {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}

const dialSink = () => net.connect({ host: cfg.sinkHost, port: cfg.sinkPort, allowHalfOpen: true, noDelay: true });

/** @param {(socket: net.Socket) => void} onSocket @returns {Promise<net.Server>} */
function listenTcp(onSocket) {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onSocket);
  return new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve(server)));
}

/**
 * The TLS side of an egress (the "WAN" end): `onSocket` gets each connection, no-delay set.
 * @param {(socket: tls.TLSSocket) => void} onSocket @returns {Promise<net.Server>}
 */
function listenTls(onSocket) {
  const server = tls.createServer(tlsServerOpts(), (socket) => {
    socket.setNoDelay(true);
    onSocket(socket);
  });
  return new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve(server)));
}

const tlsEgress = () => listenTls((socket) => splice(socket, dialSink()));

function tlsIngress() {
  return listenTcp((socket) => {
    const up = tls.connect(tlsClientOpts());
    up.setNoDelay(true);
    splice(socket, up);
  });
}

async function h2Egress() {
  const server = http2.createSecureServer({ ...tlsServerOpts(), settings: { initialWindowSize: H2_WINDOW } });
  server.on('session', (s) => s.setLocalWindowSize(H2_SESSION_WINDOW));
  server.on('stream', (stream, headers) => {
    if (headers[':method'] !== 'CONNECT') return stream.respond({ ':status': 405 }, { endStream: true });
    const sink = dialSink();
    sink.once('connect', () => stream.respond({ ':status': 200 }));
    splice(stream, sink);
  });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen({ host: '127.0.0.1', port: 0 }, r)));
  return server;
}

function h2Ingress() {
  const session = http2.connect(`https://localhost:${cfg.wanPort}`, {
    ...tlsClientOpts(),
    host: undefined,
    port: undefined,
    createConnection: () => tls.connect({ ...tlsClientOpts(), ALPNProtocols: ['h2'] }),
    settings: { initialWindowSize: H2_WINDOW },
  });
  session.on('connect', () => session.setLocalWindowSize(H2_SESSION_WINDOW));
  session.on('error', (err) => console.error('h2 session error', err.message));
  return listenTcp((socket) => {
    const stream = session.request({ ':method': 'CONNECT', ':authority': `${cfg.sinkHost}:${cfg.sinkPort}` });
    splice(socket, stream);
  });
}

/** The one TLS connection an ingress runs its mux over. */
async function wanConnection() {
  const socket = tls.connect(tlsClientOpts());
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  return socket;
}

const yamuxEgress = () => listenTls((socket) => yamuxListen(socket, (stream) => splice(stream, dialSink())));

async function yamuxIngress() {
  const open = yamuxConnect(await wanConnection());
  return listenTcp(async (caller) => {
    caller.pause();
    try {
      splice(caller, await open());
    } catch (err) {
      console.error('yamux open failed', err.message);
      caller.destroy();
    }
  });
}

const floorEgress = () => listenTls((socket) => floorMux(socket, () => dialSink()));

async function floorIngress() {
  const open = floorMux(await wanConnection());
  return listenTcp((caller) => open(caller));
}

/** @type {Record<string, () => Promise<net.Server>>} */
const starters = {
  'tls:egress': tlsEgress,
  'tls:ingress': tlsIngress,
  'h2:egress': h2Egress,
  'h2:ingress': h2Ingress,
  'yamux:egress': yamuxEgress,
  'yamux:ingress': yamuxIngress,
  'floor:egress': floorEgress,
  'floor:ingress': floorIngress,
};
const server = await starters[`${kind}:${role}`]();
process.send({ port: /** @type {net.AddressInfo} */ (server.address()).port });
process.on('SIGTERM', () => process.exit(0));
