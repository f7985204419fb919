// issue 14: the caller-facing listeners kept Node's default keepAliveTimeout (5 s), so a keep-alive
// caller that waits longer between requests (metrics-server every 15 s, Prometheus, client-go keeps
// idle connections 90 s and ignores the Keep-Alive: timeout= hint) found its connection closed, or
// closing as its next request went out: a reset. The callers here are raw sockets that behave like
// Go's client: they write the next request on the connection they kept, whatever the server said.
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';
import t from 'tap';
import { testPki } from './fixtures/pki.js';
import { sleep, startNode, startServer, until } from './fixtures/harness.js';
import { DEFAULT_CALLER_IDLE_TIMEOUT_MS } from '../src/proxy/listener.js';

const pki = await testPki();

/** One kept connection: `get()` writes a GET on it and resolves with the status and Keep-Alive header of the whole answer. */
class KeptConnection {
  closedAt: number | undefined;
  private buffered = '';
  private waiting: ((text: string) => void) | undefined;

  constructor(
    readonly socket: Socket,
    private readonly host: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffered += text;
      this.deliver();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closedAt ??= Date.now()));
  }

  async get(path: string): Promise<{ status: number; keepAlive: string | undefined }> {
    if (this.closedAt !== undefined) throw new Error('the server closed the kept connection');
    const answer = new Promise<string>((resolve, reject) => {
      this.waiting = resolve;
      this.socket.once('close', () => reject(new Error('the connection closed before a whole answer')));
    });
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}\r\n\r\n`);
    const head = await answer;
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), keepAlive: /\r\nkeep-alive: ([^\r]*)/i.exec(head)?.[1] };
  }

  /** A whole answer is in (Content-Length or chunked): hand its head to the waiting get(). */
  private deliver(): void {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0 || this.waiting === undefined) return;
    const head = this.buffered.slice(0, end);
    const rest = this.buffered.slice(end + 4);
    const length = /\r\ncontent-length: (\d+)/i.exec(head);
    let used: number;
    if (length !== null) used = Number(length[1]);
    else if (/\r\ntransfer-encoding: chunked/i.test(head)) used = rest.indexOf('0\r\n\r\n') < 0 ? -1 : rest.indexOf('0\r\n\r\n') + 5;
    else used = 0;
    if (used < 0 || rest.length < used) return;
    this.buffered = rest.slice(used);
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve(head);
  }
}

async function plain(addr: { host: string; port: number }, host: string): Promise<KeptConnection> {
  const socket = netConnect(addr.port, addr.host);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new KeptConnection(socket, host);
}

async function secure(addr: { host: string; port: number }, host: string): Promise<KeptConnection> {
  const socket = tlsConnect({
    host: addr.host,
    port: addr.port,
    servername: 'localhost',
    cert: pki.caller.certPem,
    key: pki.caller.keyPem,
    ca: pki.agentCa.certPem,
  });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  return new KeptConnection(socket, host);
}

const IDLE_MS = 7_000;

t.test(`a keep-alive caller idle ${IDLE_MS} ms (Node's default closed at 5 + 1 s) reuses its connection on :10264, :10263 and the meta listener`, async (t) => {
  // a short head limit: it must neither cut the idle gap short nor be stretched by the idle limit
  const server = await startServer(t, pki, ['--headers-timeout-ms', '1500']);
  await startNode(t, pki, server, 'edge-a', '127.0.105.1');
  const callers: Array<[string, KeptConnection, string]> = [
    [':10264', await plain(server.addr.http, '127.0.105.1:10255'), '/healthz'],
    [':10263', await secure(server.addr.https, '127.0.105.1:10250'), '/healthz'],
    ['meta', await plain(server.addr.meta, 'meta'), '/healthz'],
  ];
  t.teardown(() => callers.forEach(([, c]) => c.socket.destroy()));
  for (const [name, c, path] of callers) {
    const first = await c.get(path);
    t.equal(first.status, 200, `${name}: first request`);
    t.equal(first.keepAlive, `timeout=${DEFAULT_CALLER_IDLE_TIMEOUT_MS / 1000}`, `${name}: the server announces its idle limit`);
  }
  // a connection that never sends a request gets --headers-timeout-ms, not the idle limit
  const silent = await plain(server.addr.http, '127.0.105.1:10255');
  const openedAt = Date.now();
  t.teardown(() => silent.socket.destroy());
  await sleep(IDLE_MS);
  t.ok(
    silent.closedAt !== undefined && silent.closedAt - openedAt < 4000,
    `the silent connection was closed after ${(silent.closedAt ?? NaN) - openedAt} ms (head limit 1.5 s)`,
  );
  for (const [name, c, path] of callers) {
    t.equal(c.closedAt, undefined, `${name}: the server kept the idle connection`);
    t.equal((await c.get(path)).status, 200, `${name}: the request after the idle gap is answered on the same connection`);
  }
  const audits = server.logs.lines.filter((l) => l['msg'] === 'audit' && l['status'] === 200);
  t.equal(audits.length, 4, 'an audit line per proxied request');
});

t.test('--caller-idle-timeout-ms closes an idle caller connection', async (t) => {
  const server = await startServer(t, pki, ['--caller-idle-timeout-ms', '600']);
  await startNode(t, pki, server, 'edge-a', '127.0.105.2');
  const kept = await plain(server.addr.http, '127.0.105.2:10255');
  t.teardown(() => kept.socket.destroy());
  const answered = await kept.get('/healthz');
  t.equal(answered.status, 200);
  t.equal(answered.keepAlive, 'timeout=0', 'Keep-Alive: timeout= is in whole seconds (0.6 s)');
  const idleSince = Date.now();
  await until(() => kept.closedAt !== undefined, 'the idle connection closed', 4000);
  // Node closes one second after the limit it announces (a margin for clients that take the hint)
  t.ok(kept.closedAt! - idleSince < 3000, `closed after ${kept.closedAt! - idleSince} ms idle (limit 600 ms + Node's 1 s)`);
});
