import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { frame } from './channel.js';
import { SEND_HIGH_WATER, SEND_LOW_WATER } from './stream-session.js';

/** Where port-forward dials: the pod's network namespace is the host's loopback here. */
export const PORT_FORWARD_HOST = '127.0.0.1';

/** Reads `port` query values (repeatable, comma-separated); returns the 400 sentence when bad. */
export function parsePorts(params: URLSearchParams): number[] | string {
  const raw = params.getAll('port');
  if (raw.length === 0) return 'query parameter "port" is required';
  const ports: number[] = [];
  for (const p of raw.flatMap((v) => v.split(','))) {
    const port = Number(p);
    if (p === '' || !Number.isInteger(port) || port < 1 || port > 65535) return `invalid port "${p}"`;
    ports.push(port);
  }
  return ports;
}

/**
 * WebSocket port-forward as the kubelet does it: port i uses data channel 2i and error channel
 * 2i+1; the server's first message on each is the port as 2 bytes little-endian. One TCP
 * connection per port per WebSocket; the WebSocket closes when all of them have closed.
 */
export function runPortForward(ws: WebSocket, podName: string, ports: number[]): void {
  let open = ports.length;
  const sockets = ports.map((port, i) =>
    forwardPort(ws, podName, port, i, () => {
      open -= 1;
      if (open === 0 && ws.readyState === ws.OPEN) ws.close(1000);
    }),
  );
  let waitingForDrain = false;
  ws.on('message', (data: Buffer) => {
    const index = data.length > 0 ? data[0]! >> 1 : -1;
    const socket = sockets[index];
    // Odd channels are error channels: the client has nothing to say on them.
    if (!socket || data[0]! % 2 !== 0 || socket.destroyed || socket.writableEnded) return;
    if (socket.write(data.subarray(1)) || waitingForDrain) return;
    waitingForDrain = true;
    ws.pause();
    const resume = (): void => {
      socket.off('drain', resume);
      socket.off('close', resume);
      waitingForDrain = false;
      ws.resume();
    };
    socket.on('drain', resume);
    socket.on('close', resume);
  });
  ws.on('close', () => sockets.forEach((s) => s.destroy()));
}

function forwardPort(ws: WebSocket, podName: string, port: number, index: number, onClosed: () => void): Socket {
  const dataChannel = 2 * index;
  const errorChannel = dataChannel + 1;
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16LE(port);
  ws.send(frame(dataChannel, portBytes));
  ws.send(frame(errorChannel, portBytes));

  const socket = connect({ host: PORT_FORWARD_HOST, port, allowHalfOpen: true });
  let paused = false;
  socket.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(frame(dataChannel, chunk), () => {
      if (paused && ws.bufferedAmount <= SEND_LOW_WATER) {
        paused = false;
        socket.resume();
      }
    });
    if (ws.bufferedAmount > SEND_HIGH_WATER) {
      paused = true;
      socket.pause();
    }
  });
  // The channel protocol has no half-close: the target's EOF ends this port's connection.
  socket.on('end', () => socket.end());
  socket.on('error', (err) => {
    const message = `error forwarding port ${port} to pod ${podName}, uid : ${err.message}`;
    if (ws.readyState === ws.OPEN) ws.send(frame(errorChannel, message));
  });
  socket.on('close', onClosed);
  return socket;
}
