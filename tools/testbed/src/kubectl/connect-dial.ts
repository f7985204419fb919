// Reaching a kubelet the konnectivity way: `CONNECT <nodeIp>:<port>` to the edge-tunnel server's
// CONNECT frontend, then the raw stream (the caller speaks TLS to the kubelet over it).
import { connect, type Socket } from 'node:net';

/** The CONNECT response head (and the start of its body, for error messages) is read up to this. */
const MAX_HEAD_BYTES = 16 * 1024;

/** A `dial` for the fake API server's kubelet proxy: CONNECT through `proxyHost:proxyPort`. */
export function connectDial(proxyHost: string, proxyPort: number, target: 'ip' | 'name' = 'ip') {
  return (nodeName: string, nodeIp: string, port: number): Promise<Socket> =>
    connectThrough(proxyHost, proxyPort, `${target === 'ip' ? hostPort(nodeIp) : nodeName}:${port}`);
}

function hostPort(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Open a CONNECT tunnel to `authority`; rejects with the proxy's status line and reason on a miss. */
export function connectThrough(proxyHost: string, proxyPort: number, authority: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: proxyHost, port: proxyPort, allowHalfOpen: true });
    let received = Buffer.alloc(0);
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) {
        if (received.length > MAX_HEAD_BYTES) fail(new Error(`CONNECT ${authority}: response head too large`));
        return;
      }
      const head = received.subarray(0, end).toString('latin1');
      const status = head.split('\r\n', 1)[0] ?? '';
      if (!/^HTTP\/1\.[01] 200\b/.test(status)) {
        // Give the body (the proxy's reason) a moment to arrive, then fail with it.
        const body = (): string =>
          received
            .subarray(end + 4)
            .toString('utf8')
            .trim();
        socket.off('data', onData);
        socket.on('data', (more: Buffer) => (received = Buffer.concat([received, more])));
        setTimeout(
          () => fail(new Error(`CONNECT ${authority} via ${proxyHost}:${proxyPort}: ${status.replace(/^HTTP\/1\.[01] /, '')}${body() ? `: ${body()}` : ''}`)),
          50,
        );
        return;
      }
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('close', onClose);
      const rest = received.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onClose = (): void => fail(new Error(`CONNECT ${authority} via ${proxyHost}:${proxyPort}: connection closed before a response`));
    socket.on('data', onData);
    socket.once('error', fail);
    socket.once('close', onClose);
    socket.once('connect', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
  });
}
