// pods/{name}/portforward for kubectl: kubectl 1.32 speaks SPDY/3.1 port-forward (tunnelled in a
// WebSocket first, then as a plain SPDY upgrade when that is refused); the kubelet emulator speaks
// WebSocket port-forward. This translates: each kubectl connection (an error stream and a data
// stream sharing a requestid) becomes one WebSocket `/portForward/{ns}/{pod}?port=N` to the kubelet,
// opened like every kubelet request (dial + TLS with the kubelet-client certificate).
import { randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { StatusError } from './errors.js';
import { connectKubelet, type KubeletProxyOptions, type KubeletTarget } from './kubelet-proxy.js';
import {
  FLAG_FIN,
  HeaderZlib,
  RST_CANCEL,
  SpdyParser,
  SpdyType,
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  u32,
  type SpdyFrame,
} from './kubelet-proxy-spdy.js';
import { WsClient } from './kubelet-proxy-ws.js';

/** The SPDY subprotocol of port-forward (X-Stream-Protocol-Version). */
export const PORT_FORWARD_SPDY_PROTOCOL = 'portforward.k8s.io';
/** The kubelet's WebSocket port-forward subprotocol. */
const KUBELET_WS_PROTOCOL = 'v4.channel.k8s.io';

/** One kubectl connection: its two SPDY streams and the kubelet WebSocket behind them. */
interface Pair {
  requestId: string;
  port: number;
  errorStream?: number;
  dataStream?: number;
  ws?: WsClient;
  /** Client data that arrived before the kubelet WebSocket was open. */
  pending: Buffer[];
  clientDone: boolean;
  finished: boolean;
}

/** True for a SPDY upgrade asking for port-forward. */
export function isSpdyPortForward(headers: IncomingMessage['headers']): boolean {
  const upgrade = String(headers.upgrade ?? '').toLowerCase();
  return upgrade.startsWith('spdy/3.1');
}

/** Accept the SPDY upgrade and serve port-forward streams until either side goes away. */
export function servePortForwardSpdy(options: KubeletProxyOptions, target: KubeletTarget, socket: Duplex, head: Buffer, req: IncomingMessage): void {
  const offered = String(req.headers['x-stream-protocol-version'] ?? '')
    .split(',')
    .map((s) => s.trim());
  if (!offered.includes(PORT_FORWARD_SPDY_PROTOCOL)) {
    throw new StatusError('BadRequest', `unable to upgrade: none of the requested protocols are supported: [${offered.join(' ')}]`);
  }
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_SPDY_PROTOCOL}\r\n\r\n`,
  );
  new SpdyPortForward(options, target, socket).start(head);
}

class SpdyPortForward {
  private readonly parser = new SpdyParser();
  private readonly inflate = HeaderZlib.decompressor();
  private readonly deflate = HeaderZlib.compressor();
  private readonly pairs = new Map<string, Pair>();
  private readonly byStream = new Map<number, Pair>();
  private work: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly options: KubeletProxyOptions,
    private readonly target: KubeletTarget,
    private readonly socket: Duplex,
  ) {}

  start(head: Buffer): void {
    this.socket.on('data', (chunk: Buffer) => this.feed(chunk));
    this.socket.on('error', () => this.shutdown());
    this.socket.on('close', () => this.shutdown());
    this.socket.on('end', () => this.shutdown());
    this.socket.on('drain', () => this.pairs.forEach((p) => p.ws?.socket.resume()));
    if (head.length > 0) this.feed(head);
  }

  private feed(chunk: Buffer): void {
    let frames: SpdyFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch {
      return this.shutdown();
    }
    // Header blocks decompress asynchronously; frames are handled strictly in order.
    for (const frame of frames) this.work = this.work.then(() => this.onFrame(frame)).catch(() => this.shutdown());
  }

  private async onFrame(frame: SpdyFrame): Promise<void> {
    if (!frame.control) return this.onData(frame.streamId, frame.flags, frame.data);
    if (frame.type === SpdyType.synStream) return this.onSynStream(frame.data);
    if (frame.type === SpdyType.ping) return void this.write(controlFrame(SpdyType.ping, 0, frame.data));
    if (frame.type === SpdyType.rstStream) return this.finishPair(this.byStream.get(frame.data.readUInt32BE(0) & 0x7fffffff), false);
    if (frame.type === SpdyType.goAway) return this.shutdown();
    // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do.
  }

  private async onSynStream(data: Buffer): Promise<void> {
    const streamId = data.readUInt32BE(0) & 0x7fffffff;
    const headers = decodeHeaderBlock(await this.inflate.process(data.subarray(10)));
    const reply = await this.deflate.process(encodeHeaderBlock([]));
    this.write(controlFrame(SpdyType.synReply, 0, Buffer.concat([u32(streamId), reply])));
    const requestId = headers.get('requestid') ?? String(streamId);
    const port = Number(headers.get('port'));
    let pair = this.pairs.get(requestId);
    if (!pair) {
      pair = { requestId, port, pending: [], clientDone: false, finished: false };
      this.pairs.set(requestId, pair);
    }
    this.byStream.set(streamId, pair);
    if (headers.get('streamtype') === 'error') pair.errorStream = streamId;
    else if (headers.get('streamtype') === 'data') {
      pair.dataStream = streamId;
      void this.openKubelet(pair);
    } else this.write(controlFrame(SpdyType.rstStream, 0, u32(streamId, RST_CANCEL)));
  }

  private onData(streamId: number, flags: number, data: Buffer): void {
    const pair = this.byStream.get(streamId);
    if (!pair || streamId !== pair.dataStream || pair.finished) return;
    if (data.length > 0) {
      if (!pair.ws) pair.pending.push(data);
      else if (!pair.ws.send(Buffer.concat([Buffer.of(0), data]))) {
        this.socket.pause();
        pair.ws.socket.once('drain', () => this.socket.resume());
      }
    }
    if (flags & FLAG_FIN) {
      // The local connection closed: the WebSocket protocol has no half-close, so close it all.
      pair.clientDone = true;
      pair.ws?.close();
    }
  }

  private async openKubelet(pair: Pair): Promise<void> {
    try {
      if (!Number.isInteger(pair.port) || pair.port < 1 || pair.port > 65535) throw new Error(`invalid port "${pair.port}"`);
      const ws = await openPortForwardSocket(this.options, this.target, pair.port);
      if (pair.finished || this.closed) return ws.close();
      pair.ws = ws;
      this.relayFromKubelet(pair, ws);
      for (const data of pair.pending.splice(0)) ws.send(Buffer.concat([Buffer.of(0), data]));
      if (pair.clientDone) ws.close();
    } catch (err) {
      this.sendError(pair, (err as Error).message);
      this.finishPair(pair, true);
    }
  }

  private relayFromKubelet(pair: Pair, ws: WsClient): void {
    // Each channel's first message is the port number (2 bytes, little-endian): not payload.
    const seen = new Set<number>();
    ws.on('message', (message: Buffer) => {
      const channel = message[0];
      if (channel === undefined || pair.finished) return;
      if (!seen.has(channel)) {
        seen.add(channel);
        return;
      }
      if (channel === 0 && pair.dataStream !== undefined) {
        if (!this.write(dataFrame(pair.dataStream, 0, message.subarray(1)))) ws.socket.pause();
      } else if (channel === 1) this.sendError(pair, message.subarray(1).toString('utf8'));
    });
    ws.on('close', () => this.finishPair(pair, true));
  }

  private sendError(pair: Pair, message: string): void {
    if (pair.errorStream !== undefined && !pair.finished) this.write(dataFrame(pair.errorStream, 0, Buffer.from(message)));
  }

  /** Close both streams (FIN when `graceful`, else RST) and the kubelet WebSocket. */
  private finishPair(pair: Pair | undefined, graceful: boolean): void {
    if (!pair || pair.finished) return;
    pair.finished = true;
    pair.ws?.close();
    for (const id of [pair.dataStream, pair.errorStream]) {
      if (id === undefined) continue;
      this.write(graceful ? dataFrame(id, FLAG_FIN, Buffer.alloc(0)) : controlFrame(SpdyType.rstStream, 0, u32(id, RST_CANCEL)));
      this.byStream.delete(id);
    }
    this.pairs.delete(pair.requestId);
  }

  private write(frame: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return true;
    return this.socket.write(frame);
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pair of this.pairs.values()) pair.ws?.close();
    this.pairs.clear();
    this.inflate.close();
    this.deflate.close();
    this.socket.destroy();
  }
}

/** Open the kubelet's WebSocket port-forward for one port. */
async function openPortForwardSocket(options: KubeletProxyOptions, target: KubeletTarget, port: number): Promise<WsClient> {
  const tls = await connectKubelet(options, target);
  const path = `/portForward/${encodeURIComponent(target.namespace)}/${encodeURIComponent(target.pod)}?port=${port}`;
  return new Promise<WsClient>((resolve, reject) => {
    const upstream = request({
      createConnection: () => tls,
      method: 'GET',
      path,
      headers: {
        host: `${target.nodeIp}:${target.port}`,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': KUBELET_WS_PROTOCOL,
      },
    });
    upstream.once('error', (err) => reject(new Error(`error proxying to the kubelet: ${err.message}`)));
    upstream.once('upgrade', (_res: IncomingMessage, socket: Duplex, upHead: Buffer) => {
      if (upHead.length > 0) socket.unshift(upHead);
      resolve(new WsClient(socket));
    });
    upstream.once('response', (res: IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => {
        tls.destroy();
        reject(new Error(`the kubelet refused port-forward (${res.statusCode}): ${body.trim()}`));
      });
    });
    upstream.end();
  });
}
