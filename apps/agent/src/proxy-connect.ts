// One HTTP CONNECT tunnel through the proxy: TCP (TLS for an https:// proxy) to it, CONNECT
// host:port with Basic credentials from --proxy-auth-file, and a sentence naming the fix for each
// way it can fail. The caller runs TLS to the server inside the socket it resolves with.
import { readFile } from 'node:fs/promises';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HostPort } from './config.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { ProxyConfig } from './proxy-config.js';

/** How a proxy dial failed: the `code` field of the `connect failed` log line. */
export const ProxyFailure = {
  /** no TCP connection to the proxy */
  UNREACHABLE: 'proxy_unreachable',
  /** TLS to an https:// proxy failed */
  TLS: 'proxy_tls',
  /** 407: no credentials, or wrong ones */
  AUTH: 'proxy_auth',
  /** 403: the proxy does not allow CONNECT to this host or port */
  FORBIDDEN: 'proxy_forbidden',
  /** 500/502/503/504: the proxy could not reach the server */
  BAD_GATEWAY: 'proxy_bad_gateway',
  /** another status */
  REFUSED: 'proxy_refused',
  /** no answer within --proxy-timeout-ms */
  TIMEOUT: 'proxy_timeout',
  /** the answer is not HTTP, too large, or data followed the 200 */
  PROTOCOL: 'proxy_protocol',
  /** --proxy-auth-file cannot be read or is not user:password */
  AUTH_FILE: 'proxy_auth_file',
} as const;
export type ProxyFailure = (typeof ProxyFailure)[keyof typeof ProxyFailure];

/** Largest CONNECT answer head read. */
export const MAX_PROXY_HEAD_BYTES = 16 * 1024;

export class ProxyError extends AgentError {
  constructor(
    readonly failure: ProxyFailure,
    message: string,
    readonly status?: number,
  ) {
    super(AgentErrorCode.PROXY, message);
    this.name = 'ProxyError';
  }
}

/** Resolves with a socket whose bytes reach `target` through the proxy; rejects with ProxyError. */
export async function openTunnel(proxy: ProxyConfig, target: HostPort, opts: { signal?: AbortSignal } = {}): Promise<Socket> {
  const auth = await proxyAuth(proxy);
  const ca = proxy.caFile
    ? await readFile(proxy.caFile, 'utf8').catch((err: Error) => {
        throw new ProxyError(ProxyFailure.TLS, `cannot read --proxy-ca ${proxy.caFile}: ${err.message}`);
      })
    : undefined;
  const via = `proxy ${proxy.display} (from ${proxy.source})`;
  const authority = `${isIP(target.host) === 6 ? `[${target.host}]` : target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    // noDelay: the session's TLS runs in this socket (framing README, Nagle and delayed ACK)
    const socket: Socket =
      proxy.protocol === 'https'
        ? tlsConnect({
            host: proxy.host,
            port: proxy.port,
            ca,
            servername: isIP(proxy.host) === 0 ? proxy.host : undefined,
            ALPNProtocols: ['http/1.1'],
            minVersion: 'TLSv1.2',
          })
        : tcpConnect({ host: proxy.host, port: proxy.port });
    socket.setNoDelay(true);
    let connected = false;
    let head = Buffer.alloc(0);
    const finish = (err: ProxyError | undefined): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const timer = setTimeout(
      () =>
        finish(
          new ProxyError(
            ProxyFailure.TIMEOUT,
            connected
              ? `${via} did not answer CONNECT ${authority} within ${proxy.timeoutMs} ms: the proxy or its route to the server hangs (raise --proxy-timeout-ms if it is only slow)`
              : `no connection to ${via} within ${proxy.timeoutMs} ms: check the proxy's host and port and that a firewall lets this node reach it`,
          ),
        ),
      proxy.timeoutMs,
    );
    const onAbort = (): void => finish(new ProxyError(ProxyFailure.TIMEOUT, `dial through ${via} cancelled: the agent is stopping`));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const onError = (err: NodeJS.ErrnoException): void => {
      const detail = `${err.code ? `${err.code}: ` : ''}${err.message}`;
      if (connected || proxy.protocol === 'http' || /^E[A-Z]+$/.test(err.code ?? '')) {
        finish(new ProxyError(ProxyFailure.UNREACHABLE, `${via} unreachable: ${detail}: check the proxy address and that it is running`));
      } else {
        finish(new ProxyError(ProxyFailure.TLS, `TLS to ${via} failed: ${detail}: check --proxy-ca (the CA of the proxy's certificate) and the proxy's name`));
      }
    };
    const onClose = (): void => finish(new ProxyError(ProxyFailure.PROTOCOL, `${via} closed the connection before answering CONNECT ${authority}`));
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_PROXY_HEAD_BYTES)
          finish(new ProxyError(ProxyFailure.PROTOCOL, `${via} sent more than ${MAX_PROXY_HEAD_BYTES} bytes without ending its answer to CONNECT`));
        return;
      }
      socket.pause();
      const { status, phrase } = answerStatus(head.subarray(0, end).toString('latin1'));
      if (status === undefined)
        return finish(
          new ProxyError(ProxyFailure.PROTOCOL, `${via} did not answer CONNECT with HTTP: ${JSON.stringify(head.subarray(0, 80).toString('latin1'))}`),
        );
      if (status >= 200 && status < 300 && head.length > end + 4) {
        return finish(new ProxyError(ProxyFailure.PROTOCOL, `${via} sent data after its ${status} answer, before TLS started`));
      }
      finish(status >= 200 && status < 300 ? undefined : refusal(status, phrase, via, authority, proxy));
    };
    socket.once(proxy.protocol === 'https' ? 'secureConnect' : 'connect', () => {
      connected = true;
      const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`, 'User-Agent: edge-tunnel-agent'];
      if (auth) lines.push(`Proxy-Authorization: Basic ${Buffer.from(auth, 'utf8').toString('base64')}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('data', onData).on('error', onError).on('close', onClose);
  });
}

function answerStatus(head: string): { status?: number; phrase: string } {
  const m = /^HTTP\/1\.[01] (\d{3})([^\r\n]{0,80})/.exec(head);
  return m ? { status: Number(m[1]), phrase: `${m[1]}${m[2]!.trimEnd()}` } : { phrase: '' };
}

/** 401 counts as 407: tinyproxy answers wrong credentials with it. 500 as 502: its "Unable to connect". */
function refusal(status: number, phrase: string, via: string, authority: string, proxy: ProxyConfig): ProxyError {
  if (status === 407 || status === 401) {
    const fix = proxy.authFile
      ? `the proxy rejected the user:password in ${proxy.authFile}: check them`
      : proxy.urlAuth !== undefined
        ? `the proxy rejected the user:password in ${proxy.source}: check them`
        : 'give --proxy-auth-file with user:password';
    return new ProxyError(ProxyFailure.AUTH, `${via} demands authentication (${phrase}): ${fix}`, status);
  }
  if (status === 403) {
    return new ProxyError(
      ProxyFailure.FORBIDDEN,
      `${via} forbids CONNECT ${authority} (${phrase}): ask its operator to allow CONNECT to port ${authority.slice(authority.lastIndexOf(':') + 1)} (squid: SSL_ports / http_access; tinyproxy: ConnectPort), or add the server to NO_PROXY if it is reachable directly`,
      status,
    );
  }
  if ([500, 502, 503, 504].includes(status)) {
    return new ProxyError(
      ProxyFailure.BAD_GATEWAY,
      `${via} could not reach the server ${authority} (${phrase}): the server's name must resolve, and its port be reachable, from the proxy`,
      status,
    );
  }
  return new ProxyError(ProxyFailure.REFUSED, `${via} refused CONNECT ${authority} (${phrase})`, status);
}

/** user:password for Proxy-Authorization: --proxy-auth-file (read now, so a rotated file applies), else the URL's. */
async function proxyAuth(proxy: ProxyConfig): Promise<string | undefined> {
  if (!proxy.authFile) return proxy.urlAuth;
  let text: string;
  try {
    text = (await readFile(proxy.authFile, 'utf8')).trim();
  } catch (err) {
    throw new ProxyError(ProxyFailure.AUTH_FILE, `cannot read --proxy-auth-file ${proxy.authFile}: ${(err as Error).message}`);
  }
  if (!/^[^:\r\n]+:[^\r\n]*$/.test(text)) {
    throw new ProxyError(ProxyFailure.AUTH_FILE, `--proxy-auth-file ${proxy.authFile} must hold one line user:password`);
  }
  return text;
}
