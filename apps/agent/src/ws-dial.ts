// The WebSocket transport (--transport websocket): wss:// to --ws-url (through the CONNECT proxy when
// one is configured), verifying the server's certificate as the TLS transport does; the server sends
// a challenge, the agent answers with its certificate and a signature made with its key
// (libs/websocket), and from then on the WebSocket carries the session's bytes. Resolves to that
// byte stream; rejects with an error whose message says what failed. With --resume on the agent also
// offers subprotocol edge-tunnel-resume.v1; when the server picks it the stream carries the resumable
// link, bound to the challenge the agent just signed (framing spec §10.6): `resumeOffer` says so.
import { connect as tlsConnect, checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import { certIdentity } from '@edge-tunnel/pki';
import { resume } from '@edge-tunnel/framing';
import {
  CLOSE_REFUSED,
  MAX_MESSAGE_BYTES,
  RESUME_SUBPROTOCOL,
  SUBPROTOCOL,
  WebSocketDuplex,
  nonZeroMask,
  proofMessage,
  readChallenge,
} from '@edge-tunnel/websocket';
import type { AgentConfig, HostPort } from './config.js';
import type { Credentials } from './tls.js';
import type { Redial } from './redial-race.js';

/** host:port the WebSocket URL reaches (what a proxy must CONNECT to). */
export function wsTarget(url: URL): HostPort {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443) };
}

/** What a resume over this connection proves itself with: the agent's node identity and the connection's binding. */
export interface ResumeOffer {
  identity: string;
  binding: Buffer;
}

/** The byte stream of a WebSocket session; `resumeOffer` is set when the server picked the resume subprotocol. */
export type WebSocketStream = Duplex & { resumeOffer?: ResumeOffer };

/**
 * `race` (a resume's redial): aborting its signal ends the dial at once (rejects, socket destroyed);
 * onTcp is called once the TCP connection to the server (or the proxy's tunnel) is up.
 */
export function connectWebSocket(
  config: AgentConfig,
  creds: Credentials,
  tunnel: Socket | undefined,
  timeoutMs: number,
  race?: Pick<Redial, 'signal' | 'onTcp'>,
): Promise<WebSocketStream> {
  const name = config.serverName === config.server.host ? wsTarget(config.wsUrl).host : config.serverName;
  const ws = new WebSocket(config.wsUrl, config.resume ? [RESUME_SUBPROTOCOL, SUBPROTOCOL] : SUBPROTOCOL, {
    ca: creds.ca,
    servername: isIP(name) === 0 ? name : undefined,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
    minVersion: 'TLSv1.2',
    maxPayload: MAX_MESSAGE_BYTES,
    handshakeTimeout: timeoutMs,
    perMessageDeflate: false,
    // never a 0000 key, so ws copies every message as it masks it: the duplex gathers batches in one reused buffer
    generateMask: nonZeroMask,
    ...(tunnel ? { createConnection: (opts: object) => tlsConnect({ ...opts, socket: tunnel }) } : {}),
  } as ConstructorParameters<typeof WebSocket>[2]);
  // ws keeps its request private; its 'socket' event is where the TCP connection starts
  if (race && !tunnel)
    (ws as unknown as { _req?: NodeJS.EventEmitter })._req?.once('socket', (s: Socket) => (s.connecting ? s.once('connect', race.onTcp) : race.onTcp()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no WebSocket challenge from ${config.wsUrl.host} within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = (): void => fail(new Error('redial aborted'));
    race?.signal.addEventListener('abort', onAbort, { once: true });
    const fail = (err: Error): void => {
      race?.signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      ws.removeAllListeners('message');
      ws.terminate();
      reject(err);
    };
    ws.once('error', (err: NodeJS.ErrnoException) => fail(err));
    ws.once('unexpected-response', (_req, res) =>
      fail(new Error(`${config.wsUrl.href} answered HTTP ${res.statusCode} instead of a WebSocket upgrade (check --ws-url and the ingress)`)),
    );
    ws.once('close', (code: number, reason: Buffer) => {
      const why =
        code === CLOSE_REFUSED
          ? `the server refused our certificate proof: ${reason.toString()}`
          : `WebSocket closed before the session started (${code} ${reason.toString()})`;
      fail(new Error(why));
    });
    ws.once('message', (data: RawData, isBinary: boolean) => {
      const challenge = isBinary ? undefined : readChallenge(data.toString());
      if (challenge === undefined) return fail(new Error(`${config.wsUrl.host} sent no edge-tunnel challenge: not an edge-tunnel WebSocket endpoint`));
      clearTimeout(timer);
      race?.signal.removeEventListener('abort', onAbort);
      ws.removeAllListeners('close').removeAllListeners('error').removeAllListeners('unexpected-response');
      ws.send(proofMessage(challenge, creds.cert, creds.key));
      // same turn: the session's first bytes (the server's SETTINGS, or its WELCOME) arrive on the duplex
      const stream: WebSocketStream = new WebSocketDuplex(ws, { masksEveryMessage: true });
      if (config.resume && ws.protocol === RESUME_SUBPROTOCOL) {
        stream.resumeOffer = { identity: certIdentity(creds.cert).commonName, binding: resume.challengeBinding(challenge) };
      }
      resolve(stream);
    });
  });
}
