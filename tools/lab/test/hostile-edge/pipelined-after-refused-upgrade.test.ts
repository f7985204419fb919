// Attack: an upgrade request the kubelet does not answer 101 (an exec of a pod that does not exist, or
// any exec on the read-only port), with an ordinary request pipelined behind it in the same write.
// The kubelet's Go server answers the refusal and keeps the connection, so a relay that switched to
// raw bytes at once carried the pipelined request to the kubelet without its own routing, checks or
// audit line (on :10263 under the server's kubelet-client identity). Now the relay holds the caller's
// bytes until the upstream answers 101; any other answer is the caller's last on that connection.
// (Before the fix each case got two responses, the second a PodList, and one audit line.)
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { startTestLab } from '../fixtures/lab.js';

const lines: string[] = [];
const lab = await startTestLab(206, lines);
t.teardown(() => lab.close());
const node = lab.nodes[0]!;
const pem = (name: string, ext: 'crt' | 'key'): Buffer => readFileSync(lab.certs.path(name, ext));

type Listener = 'http' | 'https';

function open(listener: Listener): Socket {
  if (listener === 'http') return tcpConnect(lab.ports.http, lab.serverHost);
  // the caller certificate kube-apiserver would present
  return tlsConnect({
    host: lab.serverHost,
    port: lab.ports.https,
    ca: pem('ca', 'crt'),
    cert: pem('caller', 'crt'),
    key: pem('caller', 'key'),
  });
}

/** Writes `text` in one write and collects everything until the server closes (or 5 s pass). */
function exchange(listener: Listener, text: string): Promise<{ body: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = open(listener);
    let body = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ body, closed: false });
    }, 5_000);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      body += d;
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ body, closed: true });
    });
    s.once(listener === 'https' ? 'secureConnect' : 'connect', () => s.write(text));
  });
}

/** The server's audit lines since `from`, parsed. */
function auditsSince(from: number): Array<Record<string, unknown>> {
  return lines
    .slice(from)
    .filter((l) => l.startsWith('[server] {') && l.includes('"msg":"audit"'))
    .map((l) => JSON.parse(l.slice('[server] '.length)) as Record<string, unknown>);
}

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !check() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
}

const cases: Array<{ listener: Listener; port: number; path: string; upgrade: string }> = [
  // the read-only port refuses every exec (403/404 depending on the kubelet); websocket flavour
  { listener: 'http', port: 10255, path: '/exec/default/nope/c', upgrade: 'websocket' },
  // the HTTPS API: an exec of a pod that does not exist is a 404
  { listener: 'https', port: 10250, path: '/exec/ns/nope/c', upgrade: 'websocket' },
  // SPDY, as older kubectl sends it (POST): the emulator answers it 400, also not a 101
  { listener: 'https', port: 10250, path: '/exec/ns/nope/c', upgrade: 'SPDY/3.1' },
];

for (const c of cases) {
  t.test(`${c.listener}: a request pipelined behind a refused ${c.upgrade} upgrade never reaches the kubelet`, async (t) => {
    const host = `${node.ip}:${c.port}`;
    const upgrade =
      `POST ${c.path}?command=id&stdout=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${c.upgrade}\r\n` +
      (c.upgrade === 'websocket'
        ? 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n'
        : 'X-Stream-Protocol-Version: v4.channel.k8s.io\r\n') +
      '\r\n';
    const pipelined = `GET /pods HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const from = lines.length;
    const { body, closed } = await exchange(c.listener, (c.upgrade === 'websocket' ? upgrade.replace(/^POST/, 'GET') : upgrade) + pipelined);
    t.comment(body.split('\r\n\r\n')[0]!.replace(/\r\n/g, ' | '));
    const statuses = body.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    t.ok(statuses.length >= 1 && !statuses[0]!.endsWith('101'), `the upgrade was refused (${statuses[0]})`);
    t.equal(statuses.length, 1, `one response only (${statuses.join(', ')})`);
    t.notMatch(body, /PodList/, 'no PodList came back for the pipelined request');
    t.ok(closed, 'the server closed the connection after the refusal');
    // the refused upgrade has its audit line, with the kubelet's status; no /pods was audited or relayed
    const refused = Number(statuses[0]?.slice(-3));
    const ours = (): Array<Record<string, unknown>> => auditsSince(from).filter((a) => a['nodeName'] === node.name && a['listener'] === c.listener);
    await until(() => ours().some((a) => a['path'] === c.path));
    const line = ours().find((a) => a['path'] === c.path);
    t.ok(line, `an audit line for ${c.path}`);
    t.equal(line?.['status'], refused, `the audit line carries the refusal's status (${refused})`);
    t.notOk(
      ours().some((a) => a['path'] === '/pods'),
      'no /pods request was audited',
    );
    // the same /pods on its own connection works: the refusal above is the relay's rule, not a dead path
    const alone = await exchange(c.listener, `GET /pods HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    t.match(alone.body, /PodList/, 'a /pods request of its own is answered');
    // its audit line is in before the next case starts counting
    await until(() => ours().some((a) => a['path'] === '/pods'));
  });
}
