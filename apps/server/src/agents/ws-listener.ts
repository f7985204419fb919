// Agent sessions over WebSocket (--agent-ws-addr): for edge sites whose egress passes only HTTP(S),
// through an ordinary ingress or L7 load balancer that may terminate TLS. HTTPS with the server's
// certificate; `GET /edge-tunnel/v1/session` with subprotocol edge-tunnel.v1 upgrades; the server
// sends a fresh challenge and the agent proves its certificate by signing it (libs/websocket: a proof
// cannot be replayed, and it needs no client certificate on the TLS hop an ingress may end). Then the
// WebSocket carries the session's bytes and the agent listener runs it exactly as a TLS session:
// same hello check against the certificate, same registry, same limits. An agent that can resume
// also offers edge-tunnel-resume.v1; a server with --resume-grace-ms > 0 picks it, and the WebSocket
// then carries the resumable link, its proofs bound to this connection's challenge (framing spec §10.6).
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { certIdentity } from '@edge-tunnel/pki';
import { resume } from '@edge-tunnel/framing';
import {
  CLOSE_REFUSED,
  MAX_MESSAGE_BYTES,
  RESUME_SUBPROTOCOL,
  SESSION_PATH,
  SUBPROTOCOL,
  WebSocketDuplex,
  challengeMessage,
  newChallenge,
  verifyProof,
} from '@edge-tunnel/websocket';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { AgentListener } from './agent-listener.js';

export interface WsListenerOptions {
  cert: string;
  key: string;
  agentCa: string;
  /** the proof must arrive within this after the upgrade */
  helloTimeoutMs: number;
  /** upgrades waiting for their proof; beyond it the oldest is closed */
  maxPendingConnections: number;
}

export function createWsListener(
  opts: WsListenerOptions,
  agents: Pick<AgentListener, 'adopt' | 'resumes' | 'acceptResumable'>,
  metrics: ServerMetrics,
  log: Logger,
): Server {
  const server = createServer({
    cert: opts.cert,
    key: opts.key,
    minVersion: 'TLSv1.2',
    headersTimeout: opts.helloTimeoutMs,
    requestTimeout: opts.helloTimeoutMs,
  });
  // permessage-deflate off (ws's server default, said here): the session compresses per stream with LZ4 where it pays
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_MESSAGE_BYTES, handleProtocols: pickProtocol });
  const pending = new Set<WebSocket>();
  function pickProtocol(offered: Set<string>): string | false {
    if (!offered.has(SUBPROTOCOL)) return false;
    return agents.resumes && offered.has(RESUME_SUBPROTOCOL) ? RESUME_SUBPROTOCOL : SUBPROTOCOL;
  }
  server.on('request', (req, res) => {
    res.writeHead(req.url === SESSION_PATH ? 426 : 404, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end(req.url === SESSION_PATH ? `edge-tunnel: a WebSocket upgrade with subprotocol ${SUBPROTOCOL} is expected here\n` : 'edge-tunnel: not found\n');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const offered = String(req.headers['sec-websocket-protocol'] ?? '');
    if (
      req.url !== SESSION_PATH ||
      !offered
        .split(',')
        .map((s) => s.trim())
        .includes(SUBPROTOCOL)
    ) {
      log.warn(
        { remoteAddress: req.socket.remoteAddress, path: req.url, reason: `expected ${SESSION_PATH} with subprotocol ${SUBPROTOCOL}` },
        'websocket agent rejected: wrong path or subprotocol',
      );
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => prove(ws, remoteOf(req)));
  });

  function prove(ws: WebSocket, remoteAddress: string): void {
    if (pending.size >= opts.maxPendingConnections) {
      const oldest = pending.values().next().value!;
      refuse(oldest, remoteAddress, 'too many WebSocket agents waiting for their proof');
    }
    pending.add(ws);
    const challenge = newChallenge();
    const timer = setTimeout(() => refuse(ws, remoteAddress, `no proof within ${opts.helloTimeoutMs} ms`), opts.helloTimeoutMs);
    ws.once('close', () => {
      clearTimeout(timer);
      pending.delete(ws);
    });
    ws.once('message', (data: RawData, isBinary: boolean) => {
      clearTimeout(timer);
      pending.delete(ws);
      if (isBinary) return refuse(ws, remoteAddress, 'the first message must be the proof (text)');
      const verdict = verifyProof(data.toString(), challenge, opts.agentCa);
      if (!verdict.ok) return refuse(ws, remoteAddress, verdict.reason);
      let id;
      try {
        const c = certIdentity(verdict.cert.toString());
        // notBefore and serial: the session-replacement rule (replacement.ts) holds for WebSocket agents too
        id = { commonName: c.commonName, ips: c.ips, notBefore: c.notBefore.getTime(), serial: verdict.cert.serialNumber };
      } catch (err) {
        return refuse(ws, remoteAddress, `unreadable agent certificate: ${(err as Error).message}`);
      }
      if (ws.protocol === RESUME_SUBPROTOCOL)
        void agents.acceptResumable(new WebSocketDuplex(ws), id, remoteAddress, 'websocket', resume.challengeBinding(challenge));
      else void agents.adopt(new WebSocketDuplex(ws), id, remoteAddress, 'websocket');
    });
    ws.send(challengeMessage(challenge));
  }

  function refuse(ws: WebSocket, remoteAddress: string, reason: string): void {
    metrics.sessionEvents.inc({ event: 'rejected', transport: 'websocket' });
    log.warn({ remoteAddress, transport: 'websocket', reason }, 'agent rejected: certificate proof');
    pending.delete(ws);
    ws.close(CLOSE_REFUSED, reason.slice(0, 120));
    setTimeout(() => ws.terminate(), 1_000).unref();
  }

  return server;
}

/** The caller's address; behind an ingress, the ingress's (X-Forwarded-For is not trusted for identity, only logged). */
function remoteOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const base = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  return forwarded ? `${base} (x-forwarded-for ${String(forwarded).slice(0, 100)})` : base;
}
